// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// Helpers for tests and benchmarks: many Transfer logs in one transaction, native coin through an
/// internal call, and logs that look like transfers but are malformed.

/// Emits ERC-20 Transfer events without moving anything, so a benchmark can fill blocks with logs cheaply.
contract Spray {
    event Transfer(address indexed from, address indexed to, uint256 value);

    /// One Transfer(msg.sender, to[i], amount) per recipient.
    function spray(address[] calldata to, uint256 amount) external {
        for (uint256 i = 0; i < to.length; i++) {
            emit Transfer(msg.sender, to[i], amount);
        }
    }

    /// Transfers to the consecutive addresses first, first + 1, ... (no calldata per recipient).
    function sprayRange(uint160 first, uint256 count, uint256 amount) external {
        for (uint256 i = 0; i < count; i++) {
            emit Transfer(msg.sender, address(uint160(first + i)), amount);
        }
    }
}

/// Forwards the native coin it receives, so the value reaches the recipient through an internal call.
contract Forwarder {
    function forward(address payable to) external payable {
        (bool ok,) = to.call{value: msg.value}("");
        require(ok, "forward failed");
    }

    /// Splits the value evenly across recipients: several internal transfers in one transaction.
    function split(address payable[] calldata to) external payable {
        uint256 share = msg.value / to.length;
        for (uint256 i = 0; i < to.length; i++) {
            (bool ok,) = to[i].call{value: share}("");
            require(ok, "split failed");
        }
    }
}

/// Emits logs with the Transfer / TransferSingle topics but a wrong shape, to test that scanners skip them.
contract BadLogEmitter {
    bytes32 constant TRANSFER = keccak256("Transfer(address,address,uint256)");
    bytes32 constant TRANSFER_SINGLE = keccak256("TransferSingle(address,address,address,uint256,uint256)");

    /// Transfer topic plus only the `from` topic: two topics, which no standard uses.
    function twoTopics(address from, uint256 amount) external {
        bytes32 t0 = TRANSFER;
        bytes32 t1 = bytes32(uint256(uint160(from)));
        assembly {
            mstore(0, amount)
            log2(0, 32, t0, t1)
        }
    }

    /// An ERC-20 shaped Transfer (three topics) whose data is 16 bytes instead of 32.
    function shortData(address from, address to) external {
        bytes32 t0 = TRANSFER;
        bytes32 t1 = bytes32(uint256(uint160(from)));
        bytes32 t2 = bytes32(uint256(uint160(to)));
        assembly {
            mstore(0, 0)
            log3(0, 16, t0, t1, t2)
        }
    }

    /// A TransferSingle whose data holds only the id (32 bytes instead of 64).
    function shortSingle(address from, address to, uint256 id) external {
        bytes32 t0 = TRANSFER_SINGLE;
        bytes32 t1 = bytes32(uint256(uint160(msg.sender)));
        bytes32 t2 = bytes32(uint256(uint160(from)));
        bytes32 t3 = bytes32(uint256(uint160(to)));
        assembly {
            mstore(0, id)
            log4(0, 32, t0, t1, t2, t3)
        }
    }

    /// A well-formed ERC-20 Transfer after a malformed one, in the same transaction.
    function badThenGood(address from, address to, uint256 amount) external {
        this.shortData(from, to);
        emit Transfer(from, to, amount);
    }

    event Transfer(address indexed from, address indexed to, uint256 value);
}
