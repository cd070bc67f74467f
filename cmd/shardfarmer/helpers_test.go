package main

import (
	"crypto/ed25519"
	"crypto/rand"
)

func testAccountKey() ed25519.PrivateKey {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return priv
}
