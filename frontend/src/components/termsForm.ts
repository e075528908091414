// The creator's terms: shares, price per play, approval; signed as EIP-712 ModelTerms with the
// creator's wallet and sent to the studio, which registers them with the VoiceRegistry.

import { getAddress, type Address } from "viem";
import { api } from "../api/client";
import { ApiError } from "../api/errors";
import type { Config, Terms, Voice } from "../api/types";
import { AmountError, baseUnitsToDollars, dollarsToBaseUnits } from "../domain/money";
import { percent, type Shares } from "../domain/shares";
import { modelTermsTypedData } from "../domain/terms";
import { session, signingWallet } from "../session";
import { h, shortAddress, uid } from "../ui/dom";
import { notice } from "./notice";
import { sharesSliders } from "./sharesSliders";

const SIGNATURE_VALID_S = 3600;
const DEFAULT_SHARES: Shares = [5000, 4000, 1000];
const DEFAULT_PRICE = "0.003";

/** The nonce the creator's next signature must carry (the registry's `nonces(creator)`). */
async function registryNonce(): Promise<bigint> {
  try {
    return BigInt((await api.registryNonce()).nonce);
  } catch (err) {
    // A studio without the nonce route: a new creator's first nonce is 0.
    if (err instanceof ApiError && (err.status === 404 || err.status === 405)) return 0n;
    throw err;
  }
}

export function termsForm(cfg: Config, voice: Voice, onSaved: (t: Terms, message: string) => void): HTMLElement {
  const current = voice.terms;
  const me = session();
  const payout = (me ? getAddress(me.address) : "0x") as Address;
  const shares = sharesSliders(
    current ? [current.creator_bps, current.fan_bps, current.platform_bps] : DEFAULT_SHARES,
  );
  const priceId = uid("price");
  const priceHelp = uid("price-help");
  const price = h("input", {
    id: priceId,
    type: "text",
    inputmode: "decimal",
    autocomplete: "off",
    value: current ? baseUnitsToDollars(current.price_per_play, cfg.token_decimals) : DEFAULT_PRICE,
    "aria-describedby": priceHelp,
  });
  const units = h("p", { id: priceHelp, class: "hint", "aria-live": "polite" });
  const showUnits = () => {
    try {
      const v = dollarsToBaseUnits(price.value, cfg.token_decimals);
      units.textContent = `= ${v.toString()} base units of the stablecoin (${cfg.token_decimals} decimals)`;
      price.removeAttribute("aria-invalid");
    } catch (err) {
      units.textContent = err instanceof AmountError ? err.message : "Not a price.";
      price.setAttribute("aria-invalid", "true");
    }
  };
  price.addEventListener("input", showUnits);
  showUnits();

  const approvalId = uid("approval");
  const approval = h("input", { id: approvalId, type: "checkbox", checked: current?.approval_required ?? false });
  const metaId = uid("meta");
  const meta = h("input", {
    id: metaId,
    type: "text",
    autocomplete: "off",
    maxlength: 512,
    placeholder: "ipfs://… or https://… (optional)",
    value: current?.metadata_uri ?? "",
  });
  const submit = h(
    "button",
    { type: "submit", class: "button primary" },
    current ? "Sign and update terms" : "Sign terms and register",
  );
  const msg = notice();

  const form = h(
    "form",
    { class: "terms-form", "aria-label": `Terms for ${voice.name}` },
    h("p", { class: "hint" }, `Payouts go to your wallet ${shortAddress(payout)}.`),
    shares.el,
    h(
      "div",
      { class: "field" },
      h("label", { for: priceId }, "Price per play (US dollars)"),
      h("div", { class: "row" }, h("span", { class: "prefix", "aria-hidden": "true" }, "$"), price),
      units,
    ),
    h(
      "div",
      { class: "field checkbox" },
      approval,
      h("label", { for: approvalId }, "I approve each fan track before it can be published"),
    ),
    h("div", { class: "field" }, h("label", { for: metaId }, "Metadata link"), meta),
    h("div", { class: "row" }, submit),
    msg.el,
  );

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    msg.clear();
    const deployment = cfg.contracts;
    if (!deployment) {
      msg.error(new Error("This studio has no chain configured, so terms cannot be signed yet."));
      return;
    }
    if (!voice.artifact_sha256) {
      msg.error(new Error("Train the voice before setting its terms."));
      return;
    }
    let pricePerPlay: bigint;
    try {
      pricePerPlay = dollarsToBaseUnits(price.value, cfg.token_decimals);
    } catch (err) {
      msg.error(err);
      price.focus();
      return;
    }
    submit.disabled = true;
    try {
      const wallet = await signingWallet();
      const s = shares.value();
      const nonce = await registryNonce();
      const deadline = BigInt(Math.floor(Date.now() / 1000) + SIGNATURE_VALID_S);
      msg.info(`Waiting for your signature (${wallet.label})…`);
      const typed = modelTermsTypedData(deployment.chain_id, getAddress(deployment.registry), {
        creator: wallet.address,
        payout: wallet.address,
        artifactSha256: voice.artifact_sha256,
        metadataUri: meta.value.trim(),
        shares: s,
        pricePerPlay,
        approvalRequired: approval.checked,
        nonce,
        deadline,
      });
      const signature = await wallet.signTypedData(typed);
      msg.info("Registering the signed terms…");
      const saved = await api.setTerms(voice.id, {
        payout_address: wallet.address,
        creator_bps: s[0],
        fan_bps: s[1],
        platform_bps: s[2],
        price_per_play: pricePerPlay.toString(),
        approval_required: approval.checked,
        metadata_uri: meta.value.trim(),
        nonce: nonce.toString(),
        deadline: Number(deadline),
        signature,
      });
      const when =
        saved.effective_epoch === null ? "from the next settlement epoch" : `from epoch ${saved.effective_epoch}`;
      const text =
        `Terms version ${saved.version} signed and registered (${percent(saved.creator_bps)} creator, ` +
          `${percent(saved.fan_bps)} fan, ${percent(saved.platform_bps)} platform); they apply ${when}.`;
      msg.success(text);
      onSaved(saved, text);
    } catch (err) {
      msg.error(err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
