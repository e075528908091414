// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title MaliciousWallet (test only)
/// @notice An ERC-1271 wallet whose answer is chosen by the test: honest (its owner's ECDSA
/// signature), always yes (a liar), always no, a state-changing re-entry attempt, or burning all gas.
/// It can also forward arbitrary calls, so it can own channels and be a payee.
contract MaliciousWallet is IERC1271 {
    enum Mode {
        Honest,
        AlwaysValid,
        AlwaysInvalid,
        Reenter,
        BurnGas
    }

    address public immutable OWNER;
    Mode public mode;
    address public reenterTarget;
    bytes public reenterPayload;

    constructor(address owner) {
        OWNER = owner;
    }

    /// @notice Chooses how isValidSignature answers.
    /// @param mode_ The mode.
    function setMode(Mode mode_) external {
        mode = mode_;
    }

    /// @notice Sets the call attempted in Reenter mode.
    /// @param target The contract to call.
    /// @param payload The calldata.
    function setReentry(address target, bytes calldata payload) external {
        reenterTarget = target;
        reenterPayload = payload;
    }

    /// @notice Forwards a call from this wallet (only its owner).
    /// @param target The contract to call.
    /// @param data The calldata.
    /// @return The call's return data.
    function execute(address target, bytes calldata data) external returns (bytes memory) {
        require(msg.sender == OWNER, "not owner");
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        return ret;
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32 hash, bytes calldata signature)
        external
        view
        returns (bytes4)
    {
        Mode m = mode;
        if (m == Mode.AlwaysValid) return IERC1271.isValidSignature.selector;
        if (m == Mode.AlwaysInvalid) return 0xffffffff;
        if (m == Mode.Reenter) {
            // Called under STATICCALL: a re-entry into a state-changing function cannot succeed.
            // Answer "valid" only if it somehow did, so a test sees any success as a payout.
            (bool ok,) = reenterTarget.staticcall(reenterPayload);
            return ok ? IERC1271.isValidSignature.selector : bytes4(0xffffffff);
        }
        if (m == Mode.BurnGas) {
            uint256 x;
            while (gasleft() > 0) {
                x = uint256(keccak256(abi.encode(x)));
            }
            return IERC1271.isValidSignature.selector;
        }
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(hash, signature);
        if (err == ECDSA.RecoverError.NoError && recovered == OWNER) {
            return IERC1271.isValidSignature.selector;
        }
        return 0xffffffff;
    }
}
