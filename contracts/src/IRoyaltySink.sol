// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IRoyaltySink
/// @notice What PlayEscrow needs from the distributor it pays into.
interface IRoyaltySink {
    /// @notice The token the sink accounts in.
    function TOKEN() external view returns (IERC20);

    /// @notice Records `amount` base units the caller has just transferred to the sink.
    function notifyReceived(uint256 amount) external;
}
