// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// The gas wallet's batched top-ups: native coin to many deposit addresses in one transaction.
///
/// `disperseEther(address[],uint256[])` has the selector of the widely deployed disperse.app contract, so a
/// network can point at either. This one is stricter: it keeps nothing (the value must equal the sum
/// exactly) and the whole batch reverts if any single transfer fails, so a batch either funds every
/// address in it or none.
contract GasDisperse {
    error LengthMismatch(uint256 recipients, uint256 values);
    error ValueMismatch(uint256 sent, uint256 total);
    error TransferFailed(address recipient);

    function disperseEther(address payable[] calldata recipients, uint256[] calldata values) external payable {
        if (recipients.length != values.length) revert LengthMismatch(recipients.length, values.length);
        uint256 total;
        for (uint256 i = 0; i < recipients.length; i++) {
            total += values[i];
            (bool ok,) = recipients[i].call{value: values[i]}("");
            if (!ok) revert TransferFailed(recipients[i]);
        }
        if (total != msg.value) revert ValueMismatch(msg.value, total);
    }
}
