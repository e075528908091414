// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title EpochClock
/// @notice Fixed-length settlement epochs shared by the registry and the distributor: epoch N is
/// the time window [genesis + N * epochLength, genesis + (N + 1) * epochLength). Off-chain code
/// numbers epochs the same way, so "the terms in force in epoch N" means one thing everywhere.
abstract contract EpochClock {
    /// @notice Start of epoch 0 (unix seconds).
    uint64 public immutable EPOCH_GENESIS;
    /// @notice Length of one epoch in seconds.
    uint64 public immutable EPOCH_LENGTH;

    /// @dev A zero-length epoch would make every timestamp its own epoch and divide by zero.
    error InvalidEpochConfig(uint64 genesis, uint64 length);

    constructor(uint64 genesis, uint64 length) {
        if (length == 0 || genesis > block.timestamp) revert InvalidEpochConfig(genesis, length);
        EPOCH_GENESIS = genesis;
        EPOCH_LENGTH = length;
    }

    /// @notice The epoch the current block falls in.
    function currentEpoch() public view returns (uint64) {
        return (uint64(block.timestamp) - EPOCH_GENESIS) / EPOCH_LENGTH;
    }
}
