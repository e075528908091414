// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken (test only)
/// @notice On its next transfer, calls an armed target with armed calldata (a re-entry attempt)
/// and records whether that call succeeded, without failing the transfer itself.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public payload;
    bool public attempted;
    bool public reentrySucceeded;
    bytes public reentryResult;

    constructor() ERC20("Reentrant Token", "RNT") {}

    /// @notice Mints freely (test only).
    /// @param to Recipient.
    /// @param amount Base units.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Arms one re-entry attempt on the next transfer.
    /// @param target_ The contract to call back.
    /// @param payload_ The calldata.
    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
        attempted = false;
        reentrySucceeded = false;
        delete reentryResult;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        address t = target;
        if (t != address(0) && from != address(0) && to != address(0)) {
            target = address(0); // one attempt; no recursion
            attempted = true;
            (bool ok, bytes memory ret) = t.call(payload);
            reentrySucceeded = ok;
            reentryResult = ret;
        }
    }
}
