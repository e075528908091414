// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IRoyaltySink} from "./IRoyaltySink.sol";

/// @title PlayEscrow
/// @notice Streaming platforms fund a channel here and pay per play with signed cumulative
/// vouchers; the settlement role redeems the latest voucher of many channels in one transaction
/// and forwards the money to the distributor. A platform's liability is bounded by its last
/// signed voucher; a timed withdrawal lets it leave without escaping signed liability.
contract PlayEscrow is EIP712, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Redeems vouchers (the settlement service).
    bytes32 public constant SETTLEMENT_ROLE = keccak256("SETTLEMENT_ROLE");
    /// @notice Most vouchers one claim may carry; bounds the loop.
    uint256 public constant MAX_CLAIM_BATCH = 64;
    /// @notice Gas an ERC-1271 signer may use to answer; a wallet that burns more is treated as
    /// a refusal, so it cannot make the whole batch run out of gas.
    uint256 public constant ERC1271_GAS_LIMIT = 50_000;
    /// @notice EIP-712 type hash of {Voucher}.
    bytes32 public constant VOUCHER_TYPEHASH =
        keccak256("Voucher(uint256 channelId,uint256 cumulativeAmount,bytes32 usageRoot,uint64 seq)");

    /// @notice The distributor redeemed money goes to.
    IRoyaltySink public immutable DISTRIBUTOR;
    /// @notice The distributor's token; only channels in it can be redeemed.
    IERC20 public immutable PAYOUT_TOKEN;
    /// @notice Seconds between a withdrawal request and its execution.
    uint64 public immutable WITHDRAWAL_DELAY;

    /// @dev A platform's channel, packed into three slots so that a redemption reads two and
    /// writes one. Amounts in token base units (uint96: 7.9e28, far above any stablecoin supply);
    /// the token is an index into `_tokens` (0 = PAYOUT_TOKEN).
    struct Channel {
        address signer;
        uint32 tokenIndex;
        uint64 withdrawReadyAt;
        uint96 balance;
        uint96 claimed;
        uint64 lastSeq;
        address owner;
        uint96 withdrawAmount;
    }

    /// @notice A channel as clients read it.
    struct ChannelView {
        address token;
        address signer;
        address owner;
        uint256 balance;
        uint256 claimed;
        uint64 lastSeq;
        uint256 withdrawAmount;
        uint64 withdrawReadyAt;
    }

    /// @notice A platform's signed voucher: the channel owes `cumulativeAmount` in total.
    struct SignedVoucher {
        uint256 channelId;
        uint256 cumulativeAmount;
        bytes32 usageRoot;
        uint64 seq;
        bytes signature;
    }

    mapping(uint256 channelId => Channel) private _channels;
    /// @notice Number of channels opened; ids run 1..channelCount.
    uint256 public channelCount;
    /// @notice Tokens channels may be opened and funded in.
    mapping(address token => bool) public tokenAllowed;
    /// @dev Every token ever allowed, by index (0 = PAYOUT_TOKEN), and index + 1 by token.
    address[] private _tokens;
    mapping(address token => uint32) private _tokenIndexPlusOne;
    /// @notice Sum of channel balances per token (what recovery must never touch).
    mapping(address token => uint256) public totalBalance;

    /// @notice A channel was opened by `owner`, whose vouchers `signer` signs.
    event ChannelOpened(
        uint256 indexed channelId, address indexed owner, address token, address signer
    );
    /// @notice `amount` base units were deposited into a channel.
    event Deposited(uint256 indexed channelId, address indexed from, uint256 amount);
    /// @notice A voucher was redeemed; `amount` base units went to the distributor (the
    /// voucher's cumulative amount and usage root are in the transaction's calldata).
    event VoucherRedeemed(uint256 indexed channelId, uint64 seq, uint256 amount);
    /// @notice A voucher of a batch was rejected whole; `reason` is an ABI-encoded custom error.
    event VoucherRejected(uint256 indexed channelId, uint64 seq, bytes reason);
    /// @notice The owner asked to withdraw `amount` at `readyAt`.
    event WithdrawalRequested(uint256 indexed channelId, uint256 amount, uint64 readyAt);
    /// @notice The owner cancelled its withdrawal request.
    event WithdrawalCancelled(uint256 indexed channelId);
    /// @notice `amount` base units (at most the request) went back to the owner.
    event WithdrawalExecuted(uint256 indexed channelId, address indexed owner, uint256 amount);
    /// @notice The allow-list changed.
    event TokenAllowed(address indexed token, bool allowed);
    /// @notice Funds sent by mistake were returned.
    event Recovered(address indexed token, address indexed to, uint256 amount);

    /// @notice A required address was zero.
    error ZeroAddress();
    /// @notice A zero amount was given.
    error ZeroAmount();
    /// @notice The token is not on the allow-list.
    error TokenNotAllowed(address token);
    /// @notice No channel has this id.
    error UnknownChannel(uint256 channelId);
    /// @notice Only the channel's owner may do this.
    error NotChannelOwner(uint256 channelId, address caller);
    /// @notice The token delivered `received` instead of `expected` (fee-on-transfer, rebasing).
    error FeeOnTransferToken(address token, uint256 expected, uint256 received);
    /// @notice The batch is empty.
    error EmptyBatch();
    /// @notice The batch holds more than MAX_CLAIM_BATCH vouchers.
    error BatchTooLarge(uint256 length, uint256 max);
    /// @notice The channel's token is not the distributor's.
    error TokenMismatch(uint256 channelId, address token);
    /// @notice The voucher's seq is not above the last redeemed one.
    error StaleVoucher(uint256 channelId, uint64 seq, uint64 lastSeq);
    /// @notice The voucher's cumulative amount is below what was already redeemed.
    error CumulativeBelowClaimed(uint256 channelId, uint256 cumulativeAmount, uint256 claimed);
    /// @notice The channel holds `available`, less than the `required` amount.
    error InsufficientBalance(uint256 channelId, uint256 required, uint256 available);
    /// @notice The voucher is not signed by the channel's signer.
    error InvalidVoucherSignature(uint256 channelId, address signer);
    /// @notice No withdrawal is pending on this channel.
    error NoWithdrawalPending(uint256 channelId);
    /// @notice The withdrawal executes at `readyAt`, not before.
    error WithdrawalNotReady(uint256 channelId, uint64 readyAt, uint256 timestamp);
    /// @notice Recovery may only take the surplus over channel balances.
    error ExceedsSurplus(uint256 amount, uint256 surplus);

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (allow-list, recovery).
    /// @param settlement Holder of SETTLEMENT_ROLE.
    /// @param distributor The distributor redeemed money goes to; its token is allowed.
    /// @param withdrawalDelay Seconds between a withdrawal request and its execution.
    constructor(
        address admin,
        address settlement,
        IRoyaltySink distributor,
        uint64 withdrawalDelay
    ) EIP712("Timbre PlayEscrow", "1") {
        if (
            admin == address(0) || settlement == address(0) || address(distributor) == address(0)
        ) revert ZeroAddress();
        DISTRIBUTOR = distributor;
        PAYOUT_TOKEN = distributor.TOKEN();
        WITHDRAWAL_DELAY = withdrawalDelay;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(SETTLEMENT_ROLE, settlement);
        _setTokenAllowed(address(PAYOUT_TOKEN), true);
    }

    // ------------------------------------------------------------------ channels

    /// @notice Opens a channel owned by the caller.
    /// @param token An allowed token.
    /// @param signer Signs the vouchers (EOA or ERC-1271); fixed for the channel's life so that
    /// signed vouchers cannot be invalidated by a key change.
    /// @return channelId The new channel's id.
    function openChannel(address token, address signer) external returns (uint256 channelId) {
        if (signer == address(0)) revert ZeroAddress();
        if (!tokenAllowed[token]) revert TokenNotAllowed(token);
        channelId = ++channelCount;
        Channel storage c = _channels[channelId];
        c.signer = signer;
        c.tokenIndex = _tokenIndexPlusOne[token] - 1; // allowed tokens are registered
        c.owner = msg.sender;
        emit ChannelOpened(channelId, msg.sender, token, signer);
    }

    /// @notice Deposits `amount` base units (needs an allowance); anyone may top up.
    /// @param channelId The channel.
    /// @param amount Base units; the escrow's balance must grow by exactly this much.
    function deposit(uint256 channelId, uint256 amount) external nonReentrant {
        _deposit(channelId, amount);
    }

    /// @notice Deposits with an EIP-2612 permit in the same transaction.
    /// @dev A failing permit is ignored: it may have been front-run (the allowance is then
    /// already there); the transfer itself fails if it is not.
    /// @param channelId The channel.
    /// @param amount Base units.
    /// @param deadline The permit's deadline.
    /// @param v The permit signature's v.
    /// @param r The permit signature's r.
    /// @param s The permit signature's s.
    function depositWithPermit(
        uint256 channelId,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant {
        Channel storage c = _channels[channelId];
        if (c.signer == address(0)) revert UnknownChannel(channelId);
        address token = _tokens[c.tokenIndex];
        try IERC20Permit(token).permit(msg.sender, address(this), amount, deadline, v, r, s) {}
            catch {} // solhint-disable-line no-empty-blocks
        _deposit(channelId, amount);
    }

    /// @notice Asks to withdraw `amount` after WITHDRAWAL_DELAY; replaces an earlier request.
    /// @dev Vouchers stay redeemable during the delay, so signed liability cannot be escaped.
    /// @param channelId The caller's channel.
    /// @param amount Base units, at most the channel's balance now.
    function requestWithdrawal(uint256 channelId, uint256 amount) external {
        Channel storage c = _owned(channelId);
        if (amount == 0) revert ZeroAmount();
        if (amount > c.balance) revert InsufficientBalance(channelId, amount, c.balance);
        uint64 readyAt = uint64(block.timestamp) + WITHDRAWAL_DELAY;
        c.withdrawAmount = SafeCast.toUint96(amount);
        c.withdrawReadyAt = readyAt;
        emit WithdrawalRequested(channelId, amount, readyAt);
    }

    /// @notice Cancels the pending withdrawal request.
    /// @param channelId The caller's channel.
    function cancelWithdrawal(uint256 channelId) external {
        Channel storage c = _owned(channelId);
        if (c.withdrawReadyAt == 0) revert NoWithdrawalPending(channelId);
        c.withdrawAmount = 0;
        c.withdrawReadyAt = 0;
        emit WithdrawalCancelled(channelId);
    }

    /// @notice Pays out the requested amount (or the smaller balance left after redemptions).
    /// @param channelId The caller's channel.
    /// @return amount Base units transferred to the owner.
    function executeWithdrawal(uint256 channelId) external nonReentrant returns (uint256 amount) {
        Channel storage c = _owned(channelId);
        uint64 readyAt = c.withdrawReadyAt;
        if (readyAt == 0) revert NoWithdrawalPending(channelId);
        if (block.timestamp < readyAt) revert WithdrawalNotReady(channelId, readyAt, block.timestamp);
        amount = c.withdrawAmount < c.balance ? c.withdrawAmount : c.balance;
        c.withdrawAmount = 0;
        c.withdrawReadyAt = 0;
        c.balance -= uint96(amount); // amount <= balance
        address token = _tokens[c.tokenIndex];
        totalBalance[token] -= amount;
        IERC20(token).safeTransfer(msg.sender, amount);
        emit WithdrawalExecuted(channelId, msg.sender, amount);
    }

    // ------------------------------------------------------------------ settlement

    /// @notice Redeems the vouchers of many channels and pays the sum to the distributor.
    /// @dev Each voucher is all-or-nothing: it is paid in full (cumulative minus what was already
    /// redeemed) or rejected with a VoucherRejected event, so one bad channel never blocks the
    /// others. Never pays more than the signed cumulative amount nor more than the balance.
    /// @param vouchers At most MAX_CLAIM_BATCH signed vouchers.
    /// @return total Base units forwarded to the distributor.
    function claim(SignedVoucher[] calldata vouchers)
        external
        onlyRole(SETTLEMENT_ROLE)
        nonReentrant
        returns (uint256 total)
    {
        uint256 n = vouchers.length;
        if (n == 0) revert EmptyBatch();
        if (n > MAX_CLAIM_BATCH) revert BatchTooLarge(n, MAX_CLAIM_BATCH);
        for (uint256 i = 0; i < n; ++i) {
            total += _redeem(vouchers[i]);
        }
        if (total > 0) {
            totalBalance[address(PAYOUT_TOKEN)] -= total;
            PAYOUT_TOKEN.safeTransfer(address(DISTRIBUTOR), total);
            DISTRIBUTOR.notifyReceived(total);
        }
    }

    // ------------------------------------------------------------------ admin

    /// @notice Adds or removes a token from the allow-list (existing channels keep theirs, but a
    /// removed token takes no new deposits).
    /// @param token The token.
    /// @param allowed Whether channels may use it.
    function setTokenAllowed(address token, bool allowed) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (token == address(0)) revert ZeroAddress();
        _setTokenAllowed(token, allowed);
    }

    /// @notice Returns tokens sent here by mistake; never channel balances.
    /// @param token The token.
    /// @param to The recipient.
    /// @param amount Base units.
    function recover(IERC20 token, address to, uint256 amount)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
        nonReentrant
    {
        if (to == address(0)) revert ZeroAddress();
        uint256 surplus = token.balanceOf(address(this)) - totalBalance[address(token)];
        if (amount > surplus) revert ExceedsSurplus(amount, surplus);
        token.safeTransfer(to, amount);
        emit Recovered(address(token), to, amount);
    }

    // ------------------------------------------------------------------ reads

    /// @notice The channel record (signer zero when unknown).
    /// @param channelId The channel.
    /// @return The channel.
    function getChannel(uint256 channelId) external view returns (ChannelView memory) {
        Channel storage c = _channels[channelId];
        return ChannelView({
            token: c.signer == address(0) ? address(0) : _tokens[c.tokenIndex],
            signer: c.signer,
            owner: c.owner,
            balance: c.balance,
            claimed: c.claimed,
            lastSeq: c.lastSeq,
            withdrawAmount: c.withdrawAmount,
            withdrawReadyAt: c.withdrawReadyAt
        });
    }

    /// @notice The EIP-712 digest of a voucher in this escrow's domain.
    /// @param channelId The channel.
    /// @param cumulativeAmount Total base units owed on the channel.
    /// @param usageRoot Merkle root of the plays this voucher covers.
    /// @param seq The voucher's sequence number.
    /// @return The digest to sign.
    function hashVoucher(
        uint256 channelId,
        uint256 cumulativeAmount,
        bytes32 usageRoot,
        uint64 seq
    ) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(VOUCHER_TYPEHASH, channelId, cumulativeAmount, usageRoot, seq))
        );
    }

    /// @notice The EIP-712 domain separator (recomputed if the chain id changes).
    /// @return The domain separator.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ------------------------------------------------------------------ internals

    function _owned(uint256 channelId) private view returns (Channel storage c) {
        c = _channels[channelId];
        if (c.signer == address(0)) revert UnknownChannel(channelId);
        if (c.owner != msg.sender) revert NotChannelOwner(channelId, msg.sender);
    }

    function _setTokenAllowed(address token, bool allowed) private {
        if (_tokenIndexPlusOne[token] == 0) {
            _tokens.push(token);
            _tokenIndexPlusOne[token] = uint32(_tokens.length);
        }
        tokenAllowed[token] = allowed;
        emit TokenAllowed(token, allowed);
    }

    function _deposit(uint256 channelId, uint256 amount) private {
        Channel storage c = _channels[channelId];
        if (c.signer == address(0)) revert UnknownChannel(channelId);
        address token = _tokens[c.tokenIndex];
        if (!tokenAllowed[token]) revert TokenNotAllowed(token);
        if (amount == 0) revert ZeroAmount();
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received != amount) revert FeeOnTransferToken(token, amount, received);
        c.balance = SafeCast.toUint96(uint256(c.balance) + amount);
        totalBalance[token] += amount;
        emit Deposited(channelId, msg.sender, amount);
    }

    /// @dev Like SignatureChecker.isValidSignatureNowCalldata (ECDSA first, so EOAs skip the
    /// code-size lookup), but an ERC-1271 signer gets at most ERC1271_GAS_LIMIT gas (and only
    /// STATICCALL), so a hostile wallet can neither re-enter nor starve the rest of the batch.
    function _validSignature(address signer, bytes32 digest, bytes calldata signature)
        private
        view
        returns (bool)
    {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err == ECDSA.RecoverError.NoError && recovered == signer) return true;
        if (signer.code.length == 0) return false;
        (bool ok, bytes memory ret) = signer.staticcall{gas: ERC1271_GAS_LIMIT}(
            abi.encodeCall(IERC1271.isValidSignature, (digest, signature))
        );
        return ok && ret.length >= 32
            && abi.decode(ret, (bytes32)) == bytes32(IERC1271.isValidSignature.selector);
    }

    /// @dev Returns the amount redeemed, or 0 after emitting VoucherRejected. Checks cheap
    /// conditions before the signature; state changes only after every check passed.
    function _redeem(SignedVoucher calldata v) private returns (uint256 amount) {
        Channel storage c = _channels[v.channelId];
        bytes memory reason;
        address signer = c.signer;
        uint96 balance = c.balance;
        uint96 claimed_ = c.claimed;
        uint64 lastSeq = c.lastSeq;
        if (signer == address(0)) {
            reason = abi.encodeWithSelector(UnknownChannel.selector, v.channelId);
        } else if (c.tokenIndex != 0) {
            reason = abi.encodeWithSelector(
                TokenMismatch.selector, v.channelId, _tokens[c.tokenIndex]
            );
        } else if (v.seq <= lastSeq) {
            reason = abi.encodeWithSelector(StaleVoucher.selector, v.channelId, v.seq, lastSeq);
        } else if (v.cumulativeAmount < claimed_) {
            reason = abi.encodeWithSelector(
                CumulativeBelowClaimed.selector, v.channelId, v.cumulativeAmount, claimed_
            );
        } else if (v.cumulativeAmount - claimed_ > balance) {
            reason = abi.encodeWithSelector(
                InsufficientBalance.selector, v.channelId, v.cumulativeAmount - claimed_, balance
            );
        } else if (v.cumulativeAmount > type(uint96).max) {
            reason = abi.encodeWithSelector(
                SafeCast.SafeCastOverflowedUintDowncast.selector, uint8(96), v.cumulativeAmount
            );
        } else if (
            !_validSignature(
                signer, hashVoucher(v.channelId, v.cumulativeAmount, v.usageRoot, v.seq), v.signature
            )
        ) {
            reason = abi.encodeWithSelector(InvalidVoucherSignature.selector, v.channelId, signer);
        }
        if (reason.length != 0) {
            emit VoucherRejected(v.channelId, v.seq, reason);
            return 0;
        }
        // claimed_ <= cumulativeAmount <= type(uint96).max and amount <= balance (checked above).
        amount = v.cumulativeAmount - claimed_;
        c.balance = balance - uint96(amount);
        c.claimed = uint96(v.cumulativeAmount);
        c.lastSeq = v.seq;
        emit VoucherRedeemed(v.channelId, v.seq, amount);
    }
}
