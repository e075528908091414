// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {EpochClock} from "./EpochClock.sol";
import {IRoyaltySink} from "./IRoyaltySink.sol";

/// @title RoyaltyDistributor
/// @notice Pays payees their cumulative royalty entitlement from per-epoch Merkle roots. Each
/// root holds every payee's cumulative entitlement up to its epoch; a payee claims
/// `cumulative - alreadyClaimed`. A proposed root is claimable after a challenge window unless
/// the guardian vetoes it. On-chain invariant: the sum of all epoch totals never exceeds what the
/// distributor has received.
/// @dev Leaves are OpenZeppelin StandardMerkleTree leaves of (address account, uint256 amount):
/// keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount)))).
contract RoyaltyDistributor is IRoyaltySink, EpochClock, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Proposes roots (the settlement service).
    bytes32 public constant SETTLEMENT_ROLE = keccak256("SETTLEMENT_ROLE");
    /// @notice Vetoes roots during the challenge window.
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    /// @notice Transfers funds in and then notifies (PlayEscrow).
    bytes32 public constant FUNDER_ROLE = keccak256("FUNDER_ROLE");
    /// @notice Longest proof accepted (a tree of 2^64 leaves); bounds the verification loop.
    uint256 public constant MAX_PROOF_LENGTH = 64;

    /// @notice The token paid out.
    IERC20 public immutable TOKEN;
    /// @notice Seconds between a root's proposal and the moment it becomes claimable.
    uint64 public immutable CHALLENGE_WINDOW;

    /// @dev The claimable root; zero until the first root becomes claimable.
    bytes32 private _activeRoot;
    /// @dev The root in its challenge window; zero when none.
    bytes32 private _pendingRoot;
    /// @dev One slot: when the pending root becomes claimable (0 = none), its epoch and total.
    uint64 private _pendingReadyAt;
    uint64 private _pendingEpoch;
    uint128 private _pendingTotal;
    /// @dev One slot: the epoch of the claimable root and the lowest epoch a proposal may carry.
    uint64 private _activeEpoch;
    uint64 private _nextEpoch;
    /// @dev One slot, read and written by every claim: paid so far, and the sum of the epoch
    /// totals of claimable roots (a claim may never take the total above it).
    uint128 private _totalClaimed;
    uint128 private _activeTotal;

    /// @notice Base units received (funding), ever.
    uint256 public totalReceived;
    /// @notice Sum of the epoch totals of all claimable and pending roots.
    uint256 public totalAllocated;
    /// @notice Cumulative base units paid to each account.
    mapping(address account => uint256) public claimed;

    /// @notice `amount` base units arrived from `from`.
    event Funded(address indexed from, uint256 amount);
    /// @notice A root was proposed; claimable at `readyAt` unless vetoed.
    event RootProposed(
        uint64 indexed epoch, bytes32 root, uint256 epochTotal, bytes32 reportHash, uint64 readyAt
    );
    /// @notice The guardian vetoed the pending root of `epoch`.
    event RootVetoed(uint64 indexed epoch, bytes32 root);
    /// @notice The root of `epoch` became claimable.
    event RootActivated(uint64 indexed epoch, bytes32 root);
    /// @notice `amount` base units went to `account` (cumulative now `cumulativeAmount`).
    event Claimed(
        address indexed account, address indexed caller, uint256 amount, uint256 cumulativeAmount
    );
    /// @notice Funds sent by mistake were returned.
    event Recovered(address indexed token, address indexed to, uint256 amount);

    /// @notice A required address was zero.
    error ZeroAddress();
    /// @notice A zero amount was given where it makes no sense.
    error ZeroAmount();
    /// @notice The token delivered `received` base units instead of `expected` (fee on transfer).
    error FundingMismatch(uint256 expected, uint256 received);
    /// @notice A notification claimed more than the distributor's unaccounted balance.
    error UnbackedFunding(uint256 amount, uint256 unaccounted);
    /// @notice A root with this value cannot be proposed.
    error ZeroRoot();
    /// @notice Another root is still in its challenge window.
    error RootAlreadyPending(uint64 pendingEpoch);
    /// @notice Epochs must increase: `epoch` is below `minimum`.
    error EpochNotIncreasing(uint64 epoch, uint64 minimum);
    /// @notice Epoch `epoch` has not ended yet (current epoch `current`).
    error EpochNotEnded(uint64 epoch, uint64 current);
    /// @notice The sum of epoch totals would exceed what was received.
    error ExceedsReceived(uint256 allocated, uint256 received);
    /// @notice No pending root for `epoch`.
    error NoPendingRoot(uint64 epoch);
    /// @notice The challenge window of `epoch` closed at `readyAt`.
    error ChallengeWindowOver(uint64 epoch, uint64 readyAt);
    /// @notice No root is claimable yet.
    error NoActiveRoot();
    /// @notice Only `account` may call claim for itself (others use claimFor).
    error NotAccount(address caller, address account);
    /// @notice The proof has more than MAX_PROOF_LENGTH nodes.
    error ProofTooLong(uint256 length, uint256 max);
    /// @notice The proof does not show (account, cumulativeAmount) in the active root.
    error InvalidProof(address account, uint256 cumulativeAmount);
    /// @notice The account has already claimed `alreadyClaimed` >= `cumulativeAmount`.
    error NothingToClaim(address account, uint256 cumulativeAmount, uint256 alreadyClaimed);
    /// @notice Paying would exceed the totals of the claimable roots (a faulty root).
    error ExceedsAllocated(uint256 claimedAfter, uint256 allocated);
    /// @notice Recovery may only take the surplus over what payees are owed.
    error ExceedsSurplus(uint256 amount, uint256 surplus);

    /// @param admin Holder of DEFAULT_ADMIN_ROLE.
    /// @param settlement Holder of SETTLEMENT_ROLE.
    /// @param guardian Holder of GUARDIAN_ROLE.
    /// @param token The payout token.
    /// @param challengeWindow Seconds a root waits before it is claimable.
    /// @param genesis Start of epoch 0, unix seconds (same as the registry's).
    /// @param epochLength Epoch length, seconds (same as the registry's).
    constructor(
        address admin,
        address settlement,
        address guardian,
        IERC20 token,
        uint64 challengeWindow,
        uint64 genesis,
        uint64 epochLength
    ) EpochClock(genesis, epochLength) {
        if (
            admin == address(0) || settlement == address(0) || guardian == address(0)
                || address(token) == address(0)
        ) revert ZeroAddress();
        TOKEN = token;
        CHALLENGE_WINDOW = challengeWindow;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(SETTLEMENT_ROLE, settlement);
        _grantRole(GUARDIAN_ROLE, guardian);
    }

    // ------------------------------------------------------------------ funding

    /// @notice Pulls `amount` base units from the caller (needs an allowance) and records them.
    /// @param amount Base units; the received balance delta must equal it.
    function fund(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 before = TOKEN.balanceOf(address(this));
        TOKEN.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = TOKEN.balanceOf(address(this)) - before;
        if (received != amount) revert FundingMismatch(amount, received);
        totalReceived += amount;
        emit Funded(msg.sender, amount);
    }

    /// @notice Records `amount` base units the caller (a funder) has already transferred here.
    /// @dev Cheaper than an approve + transferFrom round trip for PlayEscrow's batched claims.
    /// @param amount Base units; must be covered by the balance not yet accounted for.
    function notifyReceived(uint256 amount) external onlyRole(FUNDER_ROLE) {
        uint256 unaccounted = TOKEN.balanceOf(address(this)) + _totalClaimed - totalReceived;
        if (amount > unaccounted) revert UnbackedFunding(amount, unaccounted);
        totalReceived += amount;
        emit Funded(msg.sender, amount);
    }

    // ------------------------------------------------------------------ roots

    /// @notice Proposes the cumulative root of an ended epoch.
    /// @param epoch The epoch settled; above every earlier proposal and already ended.
    /// @param root The Merkle root of (account, cumulativeAmount) leaves.
    /// @param epochTotal Base units this epoch adds (new cumulative total minus the previous).
    /// @param reportHash sha256 of the published settlement report (inputs for `timbre verify`).
    function proposeRoot(uint64 epoch, bytes32 root, uint256 epochTotal, bytes32 reportHash)
        external
        onlyRole(SETTLEMENT_ROLE)
    {
        _activatePending();
        if (_pendingReadyAt != 0) revert RootAlreadyPending(_pendingEpoch);
        if (root == bytes32(0)) revert ZeroRoot();
        if (epoch < _nextEpoch) revert EpochNotIncreasing(epoch, _nextEpoch);
        uint64 current = currentEpoch();
        if (epoch >= current) revert EpochNotEnded(epoch, current);
        uint256 allocated = totalAllocated + epochTotal;
        if (allocated > totalReceived) revert ExceedsReceived(allocated, totalReceived);
        totalAllocated = allocated;
        _nextEpoch = epoch + 1;
        // A zero window still needs a non-zero marker: readyAt is at least 1.
        uint64 readyAt = uint64(block.timestamp) + CHALLENGE_WINDOW;
        _pendingRoot = root;
        _pendingReadyAt = readyAt;
        _pendingEpoch = epoch;
        _pendingTotal = uint128(epochTotal); // <= totalReceived, itself bounded by the supply
        emit RootProposed(epoch, root, epochTotal, reportHash, readyAt);
    }

    /// @notice Vetoes the pending root of `epoch` during its challenge window.
    /// @param epoch The epoch of the pending root; it may be proposed again.
    function veto(uint64 epoch) external onlyRole(GUARDIAN_ROLE) {
        uint64 readyAt = _pendingReadyAt;
        if (readyAt == 0 || _pendingEpoch != epoch) revert NoPendingRoot(epoch);
        if (block.timestamp >= readyAt) revert ChallengeWindowOver(epoch, readyAt);
        bytes32 root = _pendingRoot;
        totalAllocated -= _pendingTotal;
        _nextEpoch = epoch;
        _clearPending();
        emit RootVetoed(epoch, root);
    }

    /// @notice Makes the pending root claimable once its window has passed (claims do it too).
    function activatePendingRoot() external {
        _activatePending();
    }

    // ------------------------------------------------------------------ claims

    /// @notice Pays the caller `cumulativeAmount - claimed[account]`.
    /// @param account The payee; must be the caller.
    /// @param cumulativeAmount The payee's cumulative entitlement in the active root.
    /// @param proof The Merkle proof of the leaf.
    /// @return amount Base units transferred.
    function claim(address account, uint256 cumulativeAmount, bytes32[] calldata proof)
        external
        nonReentrant
        returns (uint256 amount)
    {
        if (msg.sender != account) revert NotAccount(msg.sender, account);
        return _claim(account, cumulativeAmount, proof);
    }

    /// @notice Pays `account` its `cumulativeAmount - claimed[account]`; anyone may call.
    /// @param account The payee; receives the tokens.
    /// @param cumulativeAmount The payee's cumulative entitlement in the active root.
    /// @param proof The Merkle proof of the leaf.
    /// @return amount Base units transferred.
    function claimFor(address account, uint256 cumulativeAmount, bytes32[] calldata proof)
        external
        nonReentrant
        returns (uint256 amount)
    {
        return _claim(account, cumulativeAmount, proof);
    }

    // ------------------------------------------------------------------ admin

    /// @notice Returns tokens sent here by mistake; never what payees are owed.
    /// @param token The token to return.
    /// @param to The recipient.
    /// @param amount Base units.
    function recover(IERC20 token, address to, uint256 amount)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
        nonReentrant
    {
        if (to == address(0)) revert ZeroAddress();
        if (address(token) == address(TOKEN)) {
            uint256 surplus = TOKEN.balanceOf(address(this)) + _totalClaimed - totalReceived;
            if (amount > surplus) revert ExceedsSurplus(amount, surplus);
        }
        token.safeTransfer(to, amount);
        emit Recovered(address(token), to, amount);
    }

    // ------------------------------------------------------------------ reads

    /// @notice The claimable root, including a pending one whose window has passed.
    /// @return root The root (zero when none).
    /// @return epoch Its epoch.
    function activeRoot() external view returns (bytes32 root, uint64 epoch) {
        if (_pendingReadyAt != 0 && block.timestamp >= _pendingReadyAt) {
            return (_pendingRoot, _pendingEpoch);
        }
        return (_activeRoot, _activeEpoch);
    }

    /// @notice The root in its challenge window, if any.
    /// @return root The root (zero when none).
    /// @return epoch Its epoch.
    /// @return readyAt When it becomes claimable (unix seconds).
    /// @return epochTotal The base units it adds.
    function pendingRoot()
        external
        view
        returns (bytes32 root, uint64 epoch, uint64 readyAt, uint256 epochTotal)
    {
        if (_pendingReadyAt == 0 || block.timestamp >= _pendingReadyAt) return (0, 0, 0, 0);
        return (_pendingRoot, _pendingEpoch, _pendingReadyAt, _pendingTotal);
    }

    /// @notice The lowest epoch the next proposal may carry (epochs strictly increase).
    /// @return The epoch.
    function nextEpoch() external view returns (uint64) {
        return _nextEpoch;
    }

    /// @notice Base units paid to payees, ever.
    /// @return The total.
    function totalClaimed() external view returns (uint256) {
        return _totalClaimed;
    }

    /// @notice The StandardMerkleTree leaf of (account, cumulativeAmount).
    /// @param account The payee.
    /// @param cumulativeAmount The cumulative entitlement, base units.
    /// @return The leaf hash.
    function leaf(address account, uint256 cumulativeAmount) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount))));
    }

    /// @notice Whether `proof` shows (account, cumulativeAmount) under `root` (for clients).
    /// @param root A Merkle root.
    /// @param account The payee.
    /// @param cumulativeAmount The cumulative entitlement, base units.
    /// @param proof The sibling path.
    /// @return True when the proof verifies.
    function verifyProof(
        bytes32 root,
        address account,
        uint256 cumulativeAmount,
        bytes32[] calldata proof
    ) external pure returns (bool) {
        return MerkleProof.verifyCalldata(proof, root, leaf(account, cumulativeAmount));
    }

    // ------------------------------------------------------------------ internals

    function _activatePending() private {
        uint64 readyAt = _pendingReadyAt;
        if (readyAt != 0 && block.timestamp >= readyAt) {
            bytes32 root = _pendingRoot;
            uint64 epoch = _pendingEpoch;
            _activeRoot = root;
            _activeEpoch = epoch;
            _activeTotal += _pendingTotal;
            _clearPending();
            emit RootActivated(epoch, root);
        }
    }

    function _clearPending() private {
        _pendingRoot = bytes32(0);
        _pendingReadyAt = 0;
        _pendingEpoch = 0;
        _pendingTotal = 0;
    }

    function _claim(address account, uint256 cumulativeAmount, bytes32[] calldata proof)
        private
        returns (uint256 amount)
    {
        _activatePending();
        bytes32 root = _activeRoot;
        if (root == bytes32(0)) revert NoActiveRoot();
        if (proof.length > MAX_PROOF_LENGTH) revert ProofTooLong(proof.length, MAX_PROOF_LENGTH);
        if (!MerkleProof.verifyCalldata(proof, root, leaf(account, cumulativeAmount))) {
            revert InvalidProof(account, cumulativeAmount);
        }
        uint256 already = claimed[account];
        if (cumulativeAmount <= already) {
            revert NothingToClaim(account, cumulativeAmount, already);
        }
        amount = cumulativeAmount - already;
        uint256 claimedAfter = _totalClaimed + amount;
        if (claimedAfter > _activeTotal) revert ExceedsAllocated(claimedAfter, _activeTotal);
        claimed[account] = cumulativeAmount;
        _totalClaimed = uint128(claimedAfter); // <= _activeTotal, a uint128
        TOKEN.safeTransfer(account, amount);
        emit Claimed(account, msg.sender, amount, cumulativeAmount);
    }
}
