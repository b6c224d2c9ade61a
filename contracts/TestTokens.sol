// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// Minimal ERC-20 tokens for tests: a standard one, a USDT-style one whose transfer returns nothing,
/// a fee-on-transfer one and one whose transfers always revert. Every token has a public mint.

/// A standard ERC-20 (transfer and transferFrom return bool).
contract TestToken {
    string public name;
    string public symbol;
    uint8 public decimals;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_, uint8 decimals_) {
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
    }

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external virtual returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        _spend(from, amount);
        _move(from, to, amount);
        return true;
    }

    function _spend(address from, uint256 amount) internal {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= amount, "allowance");
            allowance[from][msg.sender] = allowed - amount;
        }
    }

    function _move(address from, address to, uint256 amount) internal virtual {
        require(balanceOf[from] >= amount, "balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}

/// USDT-style: transfer and transferFrom return NOTHING, so callers that expect a bool must cope.
contract NoReturnToken {
    string public constant name = "No Return USD";
    string public constant symbol = "NRUSD";
    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function approve(address spender, uint256 amount) external {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
    }

    function transfer(address to, uint256 amount) external {
        _move(msg.sender, to, amount);
    }

    function transferFrom(address from, address to, uint256 amount) external {
        require(allowance[from][msg.sender] >= amount, "allowance");
        allowance[from][msg.sender] -= amount;
        _move(from, to, amount);
    }

    function _move(address from, address to, uint256 amount) internal {
        require(balanceOf[from] >= amount, "balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}

/// Fee-on-transfer: burns feeBps / 10000 of every transfer; the recipient receives the rest.
contract FeeToken is TestToken {
    uint256 public immutable feeBps;

    constructor(uint256 feeBps_) TestToken("Fee Token", "FEE", 18) {
        require(feeBps_ <= 10000, "fee");
        feeBps = feeBps_;
    }

    function _move(address from, address to, uint256 amount) internal override {
        require(balanceOf[from] >= amount, "balance");
        uint256 fee = (amount * feeBps) / 10000;
        balanceOf[from] -= amount;
        balanceOf[to] += amount - fee;
        totalSupply -= fee;
        emit Transfer(from, to, amount - fee);
        if (fee > 0) emit Transfer(from, address(0), fee);
    }
}

/// A token that can be minted and held but never moved: every transfer reverts.
contract RevertingToken is TestToken {
    constructor() TestToken("Stuck Token", "STUCK", 18) {}

    function _move(address, address, uint256) internal pure override {
        revert("transfers disabled");
    }
}

/// A pre-standard ERC-20 (as some 2015-2016 tokens are): its Transfer event indexes nothing, so the log
/// has the Transfer topic alone and from, to and value in its data. Some NFTs emit the same shape.
contract LegacyToken {
    mapping(address => uint256) public balanceOf;
    string public constant symbol = "OLD";
    uint8 public constant decimals = 18;

    event Transfer(address from, address to, uint256 value);

    function mint(address to, uint256 value) external {
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        require(balanceOf[msg.sender] >= value, "balance");
        balanceOf[msg.sender] -= value;
        balanceOf[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }
}

/// A token with a blacklist (as USDC and USDT have): any transfer to or from a listed address reverts, so
/// the return of a deposit whose sender was listed after sending it can never go through.
contract BlacklistToken is TestToken {
    mapping(address => bool) public blacklisted;

    constructor() TestToken("Listed Token", "LST", 18) {}

    function blacklist(address who) external {
        blacklisted[who] = true;
    }

    function _move(address from, address to, uint256 amount) internal override {
        require(!blacklisted[from] && !blacklisted[to], "blacklisted");
        super._move(from, to, amount);
    }
}

/// A token whose transfer reports failure by returning false instead of reverting (as some 2017 tokens do):
/// to a refused address the call succeeds, moves nothing and emits nothing.
contract FalseReturnToken is TestToken {
    mapping(address => bool) public refused;

    constructor() TestToken("Quiet Token", "QUIET", 18) {}

    function refuse(address who) external {
        refused[who] = true;
    }

    function transfer(address to, uint256 amount) external override returns (bool) {
        if (refused[to] || balanceOf[msg.sender] < amount) {
            return false;
        }
        _move(msg.sender, to, amount);
        return true;
    }
}
