package crypto

import (
	"fmt"
	"strings"

	"github.com/cosmos/go-bip39"
)

// MnemonicWords is the only mnemonic length a drive accepts: 24 words carry
// 256 bits of entropy plus an 8-bit checksum. Shorter BIP39 mnemonics (12,
// 15, 18, 21 words) are valid BIP39 but rejected here: a drive's root secret
// is always 256 bits, so a shorter phrase can only be a typo or a phrase
// from another product.
const MnemonicWords = 24

// mnemonicEntropyBits is the entropy behind a MnemonicWords-word mnemonic.
const mnemonicEntropyBits = 256

// NewMnemonic returns a fresh 24-word BIP39 English mnemonic over 256 bits
// of entropy from crypto/rand. It is the drive's root secret: show it once,
// never store it.
func NewMnemonic() (string, error) {
	entropy, err := bip39.NewEntropy(mnemonicEntropyBits)
	if err != nil {
		return "", fmt.Errorf("crypto: new mnemonic entropy: %w", err)
	}
	m, err := bip39.NewMnemonic(entropy)
	clear(entropy)
	if err != nil {
		return "", fmt.Errorf("crypto: new mnemonic: %w", err)
	}
	return m, nil
}

// NormalizeMnemonic trims and collapses whitespace, lowercases, and checks
// that m is 24 words of the BIP39 English list with a valid checksum. It
// returns the canonical form (single spaces), which is what the BIP39 seed
// is computed over, or an error wrapping ErrInvalidMnemonic that names the
// position of a bad word but never the word itself.
func NormalizeMnemonic(m string) (string, error) {
	words := strings.Fields(strings.ToLower(m))
	if len(words) != MnemonicWords {
		return "", fmt.Errorf("%w: want %d words, have %d", ErrInvalidMnemonic, MnemonicWords, len(words))
	}
	for i, w := range words {
		if _, ok := bip39.ReverseWordMap[w]; !ok {
			return "", fmt.Errorf("%w: word %d is not in the BIP39 English word list", ErrInvalidMnemonic, i+1)
		}
	}
	norm := strings.Join(words, " ")
	// The words are known good, so the only failure left is the checksum.
	if _, err := bip39.MnemonicToByteArray(norm); err != nil {
		return "", fmt.Errorf("%w: checksum mismatch (a word is wrong or out of order)", ErrInvalidMnemonic)
	}
	return norm, nil
}

// MnemonicSeed validates a mnemonic (see NormalizeMnemonic) and returns its
// standard 64-byte BIP39 seed: PBKDF2-HMAC-SHA512, 2048 iterations, salt
// "mnemonic" (the BIP39 passphrase is always empty for a drive).
func MnemonicSeed(mnemonic string) ([]byte, error) {
	return mnemonicSeed(mnemonic, "")
}

// mnemonicSeed is MnemonicSeed with a BIP39 passphrase, for the official
// test vectors (which use "TREZOR").
func mnemonicSeed(mnemonic, passphrase string) ([]byte, error) {
	norm, err := NormalizeMnemonic(mnemonic)
	if err != nil {
		return nil, err
	}
	return bip39.NewSeed(norm, passphrase), nil
}
