// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title TestUSD
/// @notice A 6-decimal dollar stand-in with EIP-2612 permit and an open faucet. Deployed only on
/// development chains: anyone can mint up to MAX_FAUCET base units per call.
contract TestUSD is ERC20, ERC20Permit {
    /// @notice Most base units one faucet call may mint (1,000,000 TUSD).
    uint256 public constant MAX_FAUCET = 1_000_000 * 10 ** 6;

    /// @notice A faucet call asked for more than MAX_FAUCET.
    error FaucetLimitExceeded(uint256 requested, uint256 limit);

    constructor() ERC20("Timbre Test USD", "TUSD") ERC20Permit("Timbre Test USD") {}

    /// @notice Six decimals, like USDC.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mints `amount` base units to `to`.
    /// @param to Recipient of the new tokens.
    /// @param amount Base units to mint, at most MAX_FAUCET.
    function faucet(address to, uint256 amount) external {
        if (amount > MAX_FAUCET) revert FaucetLimitExceeded(amount, MAX_FAUCET);
        _mint(to, amount);
    }
}
