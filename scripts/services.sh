#!/usr/bin/env bash
# Make sure PostgreSQL, Redis and RabbitMQ answer on localhost, starting them (as root) when they do not.
# Exits non-zero, naming the service, when one cannot be brought up: tests never skip a missing service in CI.
set -u

up() { timeout 2 bash -c "echo > /dev/tcp/127.0.0.1/$1" 2>/dev/null; }

wait_up() {  # name port seconds
  for _ in $(seq 1 "$3"); do up "$2" && return 0; sleep 1; done
  echo "services: $1 is not listening on 127.0.0.1:$2" >&2
  return 1
}

status=0
if ! up 5432; then
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
wait_up PostgreSQL 5432 30 || status=1

if ! up 6379; then
  echo "services: starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
wait_up Redis 6379 15 || status=1

if ! up 5672; then
  echo "services: starting RabbitMQ"
  rabbitmq-server -detached || true
fi
wait_up RabbitMQ 5672 60 || status=1

exit $status
