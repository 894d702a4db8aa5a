package registry

import (
	"log/slog"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testenv/kindtest"
)

// TestWriteErrorMapsEveryKind: the registry's error writer answers every errkind kind with its status, never a 500.
func TestWriteErrorMapsEveryKind(t *testing.T) {
	kindtest.Check(t, (&Handler{cfg: Config{Log: slog.New(slog.DiscardHandler)}}).writeError)
}
