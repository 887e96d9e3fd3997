export {
  formatPairingCode,
  hashSecret,
  newPairingCode,
  newSecret,
  normalisePairingCode,
  pairingAlphabet,
  pairingCodeLength,
  sameHash,
} from "./codes.ts";
