export {
  formatPairingCode,
  hashSecret,
  newPairingCode,
  normalisePairingCode,
  pairingAlphabet,
  pairingCodeLength,
  sameHash,
} from "./codes.ts";
