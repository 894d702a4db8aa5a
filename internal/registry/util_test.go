package registry_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func itoaInt(i int) string { return strconv.Itoa(i) }

func sha256Digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}
