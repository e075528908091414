// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {EpochClock} from "./EpochClock.sol";

/// @title VoiceRegistry
/// @notice Voice models with creator-signed, versioned royalty terms, and the derivative tracks
/// made from them. Only the creator's EIP-712 signature (EOA or ERC-1271) sets or changes terms;
/// a relayer may submit it. A change takes effect from the next epoch, never retroactively.
contract VoiceRegistry is EpochClock, EIP712, Nonces, AccessControl {
    /// @notice May register tracks on behalf of fans (the studio).
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    /// @notice Shares are in basis points and sum to BPS.
    uint16 public constant BPS = 10_000;
    /// @notice Longest metadata URI accepted, in bytes (bounds storage and calldata).
    uint256 public constant MAX_METADATA_URI_BYTES = 512;

    /// @notice EIP-712 type hash of {ModelTerms}.
    bytes32 public constant MODEL_TERMS_TYPEHASH = keccak256(
        "ModelTerms(address creator,address payout,bytes32 artifactHash,string metadataURI,"
        "uint16 creatorBps,uint16 fanBps,uint16 platformBps,uint256 pricePerPlay,"
        "bool approvalRequired,uint256 nonce,uint256 deadline)"
    );
    /// @notice EIP-712 type hash of a creator's approval of one derivative track.
    bytes32 public constant TRACK_APPROVAL_TYPEHASH =
        keccak256("TrackApproval(bytes32 modelId,bytes32 contentHash,address fan,uint256 deadline)");

    /// @notice Terms a creator signs. Shares in basis points; price in token base units per play.
    struct ModelTerms {
        address creator;
        address payout;
        bytes32 artifactHash;
        string metadataURI;
        uint16 creatorBps;
        uint16 fanBps;
        uint16 platformBps;
        uint256 pricePerPlay;
        bool approvalRequired;
        uint256 nonce;
        uint256 deadline;
    }

    /// @notice One version of a model's terms, in force from `fromEpoch` until the next version.
    struct TermsVersion {
        address payout;
        uint16 creatorBps;
        uint16 fanBps;
        uint16 platformBps;
        bool approvalRequired;
        uint64 fromEpoch;
        uint256 pricePerPlay;
        string metadataURI;
    }

    /// @notice A registered model; its id is keccak256(abi.encode(creator, artifactHash)).
    struct Model {
        address creator;
        uint64 registeredEpoch;
        bool retired;
        bytes32 artifactHash;
    }

    /// @notice A derivative track, keyed by the content hash of its audio.
    struct Track {
        bytes32 modelId;
        address fan;
        uint64 registeredEpoch;
    }

    mapping(bytes32 modelId => Model) private _models;
    mapping(bytes32 modelId => TermsVersion[]) private _terms;
    mapping(bytes32 contentHash => Track) private _tracks;

    /// @notice Timbre's treasury: the payee of every platform share.
    address public treasury;
    /// @notice Receives rounding remainders of the settlement (see MONEY.md).
    address public dustAccount;

    /// @notice A model was registered; its first terms apply from `fromEpoch`.
    event ModelRegistered(
        bytes32 indexed modelId,
        address indexed creator,
        address payout,
        bytes32 artifactHash,
        uint64 fromEpoch
    );
    /// @notice The creator signed new terms, version `version`, in force from `fromEpoch`.
    event TermsUpdated(bytes32 indexed modelId, uint256 version, uint64 fromEpoch);
    /// @notice The creator retired a model in `epoch`; its tracks keep earning.
    event ModelRetired(bytes32 indexed modelId, uint64 epoch);
    /// @notice A derivative track was registered in `epoch`.
    event TrackRegistered(
        bytes32 indexed contentHash, bytes32 indexed modelId, address indexed fan, uint64 epoch
    );
    /// @notice The treasury changed.
    event TreasurySet(address treasury);
    /// @notice The dust account changed.
    event DustAccountSet(address dustAccount);

    /// @notice Shares do not sum to BPS.
    error InvalidShares(uint16 creatorBps, uint16 fanBps, uint16 platformBps);
    /// @notice A signature's deadline has passed.
    error SignatureExpired(uint256 deadline, uint256 timestamp);
    /// @notice `signer` did not sign this payload (EOA or ERC-1271).
    error InvalidSignature(address signer);
    /// @notice A model with this creator and artifact already exists.
    error ModelAlreadyRegistered(bytes32 modelId);
    /// @notice No model has this id.
    error UnknownModel(bytes32 modelId);
    /// @notice The model is retired and takes no new tracks.
    error ModelIsRetired(bytes32 modelId);
    /// @notice Only the model's creator may do this.
    error NotCreator(bytes32 modelId, address caller);
    /// @notice A required address was zero.
    error ZeroAddress();
    /// @notice The metadata URI is longer than MAX_METADATA_URI_BYTES.
    error MetadataURITooLong(uint256 length, uint256 max);
    /// @notice A track with this content hash already exists.
    error TrackAlreadyRegistered(bytes32 contentHash);
    /// @notice No track has this content hash.
    error UnknownTrack(bytes32 contentHash);
    /// @notice Only the fan or a registrar may register a track for `fan`.
    error NotFanOrRegistrar(address caller, address fan);
    /// @notice The model had no terms in force in `epoch` (it was registered later).
    error NoTermsAtEpoch(bytes32 modelId, uint64 epoch);

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (grants REGISTRAR_ROLE, sets treasury and dust).
    /// @param treasury_ Payee of platform shares.
    /// @param dustAccount_ Payee of rounding remainders.
    /// @param genesis Start of epoch 0, unix seconds.
    /// @param epochLength Epoch length, seconds.
    constructor(
        address admin,
        address treasury_,
        address dustAccount_,
        uint64 genesis,
        uint64 epochLength
    ) EpochClock(genesis, epochLength) EIP712("Timbre VoiceRegistry", "1") {
        if (admin == address(0) || treasury_ == address(0) || dustAccount_ == address(0)) {
            revert ZeroAddress();
        }
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        treasury = treasury_;
        dustAccount = dustAccount_;
    }

    // ------------------------------------------------------------------ models

    /// @notice Registers a model with the creator's signed terms; anyone may relay.
    /// @dev When the payout differs from the creator, the payout address signs the same digest:
    /// it proves that the payout address is controlled on this chain (the OP/Wintermute loss).
    /// @param terms The signed terms; `terms.nonce` must equal `nonces(creator)`.
    /// @param creatorSignature The creator's EIP-712 signature over `terms`.
    /// @param payoutSignature The payout's signature over the same digest (empty if payout == creator).
    /// @return modelId keccak256(abi.encode(creator, artifactHash)).
    function registerModel(
        ModelTerms calldata terms,
        bytes calldata creatorSignature,
        bytes calldata payoutSignature
    ) external returns (bytes32 modelId) {
        modelId = modelIdOf(terms.creator, terms.artifactHash);
        if (_models[modelId].creator != address(0)) revert ModelAlreadyRegistered(modelId);
        _checkTerms(terms, creatorSignature, payoutSignature);
        uint64 epoch = currentEpoch();
        _models[modelId] = Model({
            creator: terms.creator,
            registeredEpoch: epoch,
            retired: false,
            artifactHash: terms.artifactHash
        });
        // A new model has no plays yet, so its first terms may apply from the current epoch.
        _terms[modelId].push(_version(terms, epoch));
        emit ModelRegistered(modelId, terms.creator, terms.payout, terms.artifactHash, epoch);
    }

    /// @notice Replaces a model's terms from the next epoch on; anyone may relay.
    /// @dev Two updates in one epoch: the later replaces the pending one (both apply next epoch).
    /// @param terms The signed terms (same creator and artifact hash as the model).
    /// @param creatorSignature The creator's EIP-712 signature over `terms`.
    /// @param payoutSignature The payout's signature over the same digest (empty if payout == creator).
    /// @return version Index of the new terms version.
    function updateTerms(
        ModelTerms calldata terms,
        bytes calldata creatorSignature,
        bytes calldata payoutSignature
    ) external returns (uint256 version) {
        bytes32 modelId = modelIdOf(terms.creator, terms.artifactHash);
        if (_models[modelId].creator == address(0)) revert UnknownModel(modelId);
        _checkTerms(terms, creatorSignature, payoutSignature);
        uint64 fromEpoch = currentEpoch() + 1;
        TermsVersion[] storage versions = _terms[modelId];
        if (versions[versions.length - 1].fromEpoch == fromEpoch) versions.pop();
        versions.push(_version(terms, fromEpoch));
        version = versions.length - 1;
        emit TermsUpdated(modelId, version, fromEpoch);
    }

    /// @notice Retires a model: no new tracks; existing tracks keep earning under their terms.
    /// @param modelId The model to retire; the caller must be its creator.
    function retireModel(bytes32 modelId) external {
        Model storage m = _models[modelId];
        if (m.creator == address(0)) revert UnknownModel(modelId);
        if (m.creator != msg.sender) revert NotCreator(modelId, msg.sender);
        if (m.retired) revert ModelIsRetired(modelId);
        m.retired = true;
        emit ModelRetired(modelId, currentEpoch());
    }

    // ------------------------------------------------------------------ tracks

    /// @notice Registers a derivative track of `modelId` made by `fan`.
    /// @dev The caller is the fan or a registrar. When the model's latest terms require approval,
    /// `approvalSignature` is the creator's EIP-712 TrackApproval (EOA or ERC-1271).
    /// @param modelId The voice model used.
    /// @param contentHash sha256 of the published audio; the track's id.
    /// @param fan The fan who made the track (payee of the fan share).
    /// @param approvalDeadline Deadline of the approval signature (ignored without approval).
    /// @param approvalSignature The creator's approval, or empty when not required.
    function registerTrack(
        bytes32 modelId,
        bytes32 contentHash,
        address fan,
        uint256 approvalDeadline,
        bytes calldata approvalSignature
    ) external {
        if (fan == address(0)) revert ZeroAddress();
        if (msg.sender != fan && !hasRole(REGISTRAR_ROLE, msg.sender)) {
            revert NotFanOrRegistrar(msg.sender, fan);
        }
        Model storage m = _models[modelId];
        if (m.creator == address(0)) revert UnknownModel(modelId);
        if (m.retired) revert ModelIsRetired(modelId);
        if (_tracks[contentHash].fan != address(0)) revert TrackAlreadyRegistered(contentHash);
        TermsVersion[] storage versions = _terms[modelId];
        if (versions[versions.length - 1].approvalRequired) {
            if (block.timestamp > approvalDeadline) {
                revert SignatureExpired(approvalDeadline, block.timestamp);
            }
            bytes32 digest = hashTrackApproval(modelId, contentHash, fan, approvalDeadline);
            if (!SignatureChecker.isValidSignatureNow(m.creator, digest, approvalSignature)) {
                revert InvalidSignature(m.creator);
            }
        }
        uint64 epoch = currentEpoch();
        _tracks[contentHash] = Track({modelId: modelId, fan: fan, registeredEpoch: epoch});
        emit TrackRegistered(contentHash, modelId, fan, epoch);
    }

    // ------------------------------------------------------------------ admin

    /// @notice Sets the treasury (payee of platform shares).
    /// @param treasury_ The new treasury; not zero.
    function setTreasury(address treasury_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    /// @notice Sets the dust account (payee of rounding remainders).
    /// @param dustAccount_ The new dust account; not zero.
    function setDustAccount(address dustAccount_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (dustAccount_ == address(0)) revert ZeroAddress();
        dustAccount = dustAccount_;
        emit DustAccountSet(dustAccount_);
    }

    // ------------------------------------------------------------------ reads

    /// @notice The id a model of `creator` with `artifactHash` has (or would have).
    /// @param creator The creator's address.
    /// @param artifactHash sha256 of the model artifact.
    /// @return The model id.
    function modelIdOf(address creator, bytes32 artifactHash) public pure returns (bytes32) {
        return keccak256(abi.encode(creator, artifactHash));
    }

    /// @notice The model record.
    /// @param modelId The model id.
    /// @return The model (creator zero when unknown).
    function getModel(bytes32 modelId) external view returns (Model memory) {
        return _models[modelId];
    }

    /// @notice How many terms versions a model has.
    /// @param modelId The model id.
    /// @return The number of versions.
    function termsVersionCount(bytes32 modelId) external view returns (uint256) {
        return _terms[modelId].length;
    }

    /// @notice One terms version by index.
    /// @param modelId The model id.
    /// @param version The version index.
    /// @return The terms version.
    function termsVersion(bytes32 modelId, uint256 version)
        external
        view
        returns (TermsVersion memory)
    {
        return _terms[modelId][version];
    }

    /// @notice The terms of a model in force in `epoch`.
    /// @param modelId The model id.
    /// @param epoch The settlement epoch.
    /// @return The terms version in force.
    function termsAt(bytes32 modelId, uint64 epoch) public view returns (TermsVersion memory) {
        if (_models[modelId].creator == address(0)) revert UnknownModel(modelId);
        TermsVersion[] storage versions = _terms[modelId];
        if (epoch < versions[0].fromEpoch) revert NoTermsAtEpoch(modelId, epoch);
        // Binary search for the last version with fromEpoch <= epoch (fromEpoch is increasing).
        uint256 lo = 0;
        uint256 hi = versions.length - 1;
        while (lo < hi) {
            uint256 mid = (lo + hi + 1) / 2;
            if (versions[mid].fromEpoch <= epoch) lo = mid;
            else hi = mid - 1;
        }
        return versions[lo];
    }

    /// @notice The track record.
    /// @param contentHash The track's content hash.
    /// @return The track (fan zero when unknown).
    function getTrack(bytes32 contentHash) external view returns (Track memory) {
        return _tracks[contentHash];
    }

    /// @notice The terms governing a track's plays in `epoch`, and its fan.
    /// @param contentHash The track's content hash.
    /// @param epoch The settlement epoch.
    /// @return terms The model's terms in force in `epoch`.
    /// @return fan The fan payee.
    function trackTermsAt(bytes32 contentHash, uint64 epoch)
        external
        view
        returns (TermsVersion memory terms, address fan)
    {
        Track storage t = _tracks[contentHash];
        if (t.fan == address(0)) revert UnknownTrack(contentHash);
        return (termsAt(t.modelId, epoch), t.fan);
    }

    /// @notice The EIP-712 digest of `terms` in this registry's domain.
    /// @param terms The terms.
    /// @return The digest to sign.
    function hashModelTerms(ModelTerms calldata terms) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    MODEL_TERMS_TYPEHASH,
                    terms.creator,
                    terms.payout,
                    terms.artifactHash,
                    keccak256(bytes(terms.metadataURI)),
                    terms.creatorBps,
                    terms.fanBps,
                    terms.platformBps,
                    terms.pricePerPlay,
                    terms.approvalRequired,
                    terms.nonce,
                    terms.deadline
                )
            )
        );
    }

    /// @notice The EIP-712 digest of a track approval in this registry's domain.
    /// @param modelId The model id.
    /// @param contentHash The track's content hash.
    /// @param fan The fan.
    /// @param deadline The approval's deadline (unix seconds).
    /// @return The digest to sign.
    function hashTrackApproval(bytes32 modelId, bytes32 contentHash, address fan, uint256 deadline)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(
            keccak256(abi.encode(TRACK_APPROVAL_TYPEHASH, modelId, contentHash, fan, deadline))
        );
    }

    /// @notice The EIP-712 domain separator (recomputed if the chain id changes).
    /// @return The domain separator.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ------------------------------------------------------------------ internals

    function _checkTerms(
        ModelTerms calldata terms,
        bytes calldata creatorSignature,
        bytes calldata payoutSignature
    ) private {
        if (terms.creator == address(0) || terms.payout == address(0)) revert ZeroAddress();
        if (uint256(terms.creatorBps) + terms.fanBps + terms.platformBps != BPS) {
            revert InvalidShares(terms.creatorBps, terms.fanBps, terms.platformBps);
        }
        if (bytes(terms.metadataURI).length > MAX_METADATA_URI_BYTES) {
            revert MetadataURITooLong(bytes(terms.metadataURI).length, MAX_METADATA_URI_BYTES);
        }
        if (block.timestamp > terms.deadline) {
            revert SignatureExpired(terms.deadline, block.timestamp);
        }
        bytes32 digest = hashModelTerms(terms);
        if (!SignatureChecker.isValidSignatureNow(terms.creator, digest, creatorSignature)) {
            revert InvalidSignature(terms.creator);
        }
        if (
            terms.payout != terms.creator
                && !SignatureChecker.isValidSignatureNow(terms.payout, digest, payoutSignature)
        ) revert InvalidSignature(terms.payout);
        _useCheckedNonce(terms.creator, terms.nonce);
    }

    function _version(ModelTerms calldata terms, uint64 fromEpoch)
        private
        pure
        returns (TermsVersion memory)
    {
        return TermsVersion({
            payout: terms.payout,
            creatorBps: terms.creatorBps,
            fanBps: terms.fanBps,
            platformBps: terms.platformBps,
            approvalRequired: terms.approvalRequired,
            fromEpoch: fromEpoch,
            pricePerPlay: terms.pricePerPlay,
            metadataURI: terms.metadataURI
        });
    }
}
