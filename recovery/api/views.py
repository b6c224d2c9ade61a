"""The user REST API: the same abilities as the pages, scoped to the caller, with one error shape."""

from __future__ import annotations

import re
from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from recovery.accounts import destinations
from recovery.accounts.errors import UserError
from recovery.accounts.throttling import TooManyCodes, client_ip
from recovery.api import serializers as s
from recovery.cases import claims, filing, ownership, selectors, user_actions
from recovery.models import Network

# 415: a body in a media type other than JSON, a form or multipart.
ERRORS = {code: OpenApiResponse(s.ErrorSerializer) for code in (400, 403, 404, 409, 415, 422, 429)}
# A read is refused when signed out (403) or for another user's object (404).
READ_ERRORS = {code: OpenApiResponse(s.ErrorSerializer) for code in (403, 404)}
# A list is also refused for a malformed page or page size (400).
LIST_ERRORS = {code: OpenApiResponse(s.ErrorSerializer) for code in (400, 403, 404)}
# A lookup and a filing ask the chain's node, which may be unreachable (503).
CHAIN_ERRORS = {**ERRORS, 503: OpenApiResponse(s.ErrorSerializer)}


def error_response(code: str, message: str, field: str = "", http: int = 400) -> Response:
    return Response({"error": {"code": code, "message": message, "field": field}}, status=http)


def user_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every refusal as {"error": {"code", "message", "field"}}; no stack traces, no existence leaks."""
    if isinstance(exc, UserError):
        response = error_response(exc.code, exc.message, exc.field, exc.status)
        if isinstance(exc, TooManyCodes):
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, Http404 | exceptions.NotFound):
        return error_response("not_found", "No such object.", http=404)
    if isinstance(exc, exceptions.ValidationError):
        field, message = first_error(exc.detail)
        return error_response("invalid", message, field)
    if isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait or 0)
        return error_response("throttled", f"Too many requests. Try again in {wait} seconds.", http=429)
    if isinstance(exc, exceptions.APIException):
        return error_response(str(exc.default_code), str(exc.detail), http=exc.status_code)
    return None


def first_error(detail: Any, field: str = "") -> tuple[str, str]:
    if isinstance(detail, dict):
        key, value = next(iter(detail.items()))
        return first_error(value, "" if key == "non_field_errors" else str(key))
    if isinstance(detail, list) and detail:
        return first_error(detail[0], field)
    return field, str(detail)


class UserAPIView(APIView):
    """Base of the user endpoints: the error shape and throttling by scope on writes."""

    write_scope = ""

    def get_exception_handler(self) -> Any:
        return user_exception_handler

    def get_throttles(self) -> list[Any]:
        if self.write_scope and self.request.method == "POST":
            self.throttle_scope = self.write_scope
            return [ScopedRateThrottle()]
        return []

    def case(self, reference: str) -> Any:
        return selectors.user_case(self.request.user, reference)

    def case_detail(self, case: Any) -> dict[str, Any]:
        """The case as the user sees it now, read again after a change."""
        return s.CaseDetailSerializer(self.case(case.reference)).data


def network_of(slug: str) -> Network:
    network = Network.objects.filter(slug=slug).first()
    if network is None:
        raise UserError("unknown_network", "Choose one of the listed networks.", "network")
    return network


class LookupView(UserAPIView):
    write_scope = "lookups"

    @extend_schema(request=s.LookupInSerializer, responses={200: s.LookupOutSerializer, **CHAIN_ERRORS})
    def post(self, request: Request) -> Response:
        """Look a transaction up, suggest the category and quote the fee (binding, in `quote_token`)."""
        data = valid(s.LookupInSerializer, request)
        preview = claims.claim_preview(
            user=request.user,
            network=network_of(data["network"]),
            txid=data["txid"],
            position=data["position"],
            amount=data["amount"],
        )
        existing = preview.existing_case
        mine = existing is not None and existing.user_id == request.user.pk
        body = filing.quote_load(preview.quote_token, request.user)["view"]
        return Response(
            {
                **body,
                "quote_token": preview.quote_token,
                "existing_case": str(existing.reference) if mine else None,
            }
        )


class CasePagination(PageNumberPagination):
    """Pages of 25, up to 100 on request; a malformed page or page size is refused, not taken as 1 or 25."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_number(self, request: Request, paginator: Any) -> int:
        return positive_int_param(request, self.page_query_param) or 1

    def get_page_size(self, request: Request) -> int:
        size = positive_int_param(request, self.page_size_query_param)
        return min(size, self.max_page_size) if size else self.page_size

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
        return parameters


def positive_int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not re.fullmatch(r"[0-9]{1,9}", raw) or int(raw) < 1:
        raise exceptions.ValidationError({name: "Use a whole number of 1 or more."})
    return int(raw)


class CaseListView(UserAPIView):
    write_scope = "filing"
    pagination_class = CasePagination  # also tells the schema the list is paginated

    @extend_schema(responses={200: s.CaseListSerializer(many=True), **LIST_ERRORS})
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.user_cases(request.user), request, view=self)
        return paginator.get_paginated_response(s.CaseListSerializer(page, many=True).data)

    @extend_schema(
        request=s.FileInSerializer,
        responses={201: s.CaseDetailSerializer, 200: s.CaseDetailSerializer, **CHAIN_ERRORS},
    )
    def post(self, request: Request) -> Response:
        """File a case from a lookup's quote_token. A deposit with an open case returns that case (200)."""
        data = valid(s.FileInSerializer, request)
        filed = filing.claim_file(
            user=request.user,
            quote_token=data["quote_token"],
            refund_destination=data["refund_destination"],
            destination_memo=data["destination_memo"],
            otp_code=data["otp_code"],
            accept_fee=data["accept_fee"],
            facts={k: data[k] for k in ("intended_network", "memo_used", "note")},
        )
        body = {
            **self.case_detail(filed.case),
            "duplicate": not filed.created,
            "notice": filed.message,
        }
        return Response(body, status=status.HTTP_201_CREATED if filed.created else status.HTTP_200_OK)


class CaseDetailView(UserAPIView):
    @extend_schema(responses={200: s.CaseDetailSerializer, **READ_ERRORS})
    def get(self, request: Request, reference: str) -> Response:
        return Response(s.CaseDetailSerializer(self.case(reference)).data)


class CaseCancelView(UserAPIView):
    @extend_schema(request=None, responses={200: s.CaseDetailSerializer, **ERRORS})
    def post(self, request: Request, reference: str) -> Response:
        case = user_actions.case_cancel_by_owner(user=request.user, case=self.case(reference))
        return Response(self.case_detail(case))


class CaseDestinationView(UserAPIView):
    write_scope = "proofs"

    @extend_schema(request=s.DestinationInSerializer, responses={200: s.CaseDetailSerializer, **ERRORS})
    def post(self, request: Request, reference: str) -> Response:
        """Change the refund destination (second factor required; approvals are voided)."""
        data = valid(s.DestinationInSerializer, request)
        case = user_actions.destination_change(
            user=request.user,
            case=self.case(reference),
            address=data["refund_destination"],
            memo=data["destination_memo"],
            otp_code=data["otp_code"],
        )
        return Response(self.case_detail(case))


class CaseMessagesView(UserAPIView):
    write_scope = "filing"

    @extend_schema(responses={200: s.MessageSerializer(many=True), **READ_ERRORS})
    def get(self, request: Request, reference: str) -> Response:
        return Response(s.MessageSerializer(selectors.case_messages(self.case(reference)), many=True).data)

    @extend_schema(request=s.MessageInSerializer, responses={201: s.MessageSerializer, **ERRORS})
    def post(self, request: Request, reference: str) -> Response:
        data = valid(s.MessageInSerializer, request)
        message = user_actions.case_message_post(
            user=request.user, case=self.case(reference), body=data["body"]
        )
        return Response(s.MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class ChallengeView(UserAPIView):
    write_scope = "proofs"

    @extend_schema(request=s.ChallengeInSerializer, responses={201: s.ChallengeSerializer, **ERRORS})
    def post(self, request: Request, reference: str) -> Response:
        """A message to sign with the sending address (EIP-191, BIP-322 simple or legacy signmessage)."""
        data = valid(s.ChallengeInSerializer, request)
        challenge = ownership.challenge_issue(
            user=request.user, case=self.case(reference), address=data["address"], method=data["method"]
        )
        return Response(s.ChallengeSerializer(challenge).data, status=status.HTTP_201_CREATED)


class ProofView(UserAPIView):
    write_scope = "proofs"

    @extend_schema(request=s.ProofInSerializer, responses={200: s.CaseDetailSerializer, **ERRORS})
    def post(self, request: Request, reference: str) -> Response:
        data = valid(s.ProofInSerializer, request)
        case = ownership.challenge_answer(
            user=request.user, case=self.case(reference), nonce=data["nonce"], signature=data["signature"]
        )
        return Response(self.case_detail(case))


class EmailCodeView(UserAPIView):
    write_scope = "proofs"

    @extend_schema(request=s.EmailCodeInSerializer, responses={202: None, **ERRORS})
    def post(self, request: Request) -> Response:
        """E-mail a one-time code confirming one destination (for users without an authenticator).

        Limited per account and per client IP (429 `too_many_codes`, with Retry-After in seconds)."""
        data = valid(s.EmailCodeInSerializer, request)
        destinations.destination_code_send(
            user=request.user,
            network=network_of(data["network"]),
            address=data["address"],
            memo=data["memo"],
            client_ip=client_ip(request),
        )
        return Response(status=status.HTTP_202_ACCEPTED)


def valid(serializer_class: type[Any], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
