package git

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"github.com/gatehouse-dev/gatehouse/internal/gitexec"
)

// Empty reports whether project id's repository has no branch and no tag yet, so the UI can show
// how to push a first commit (docs/design.md §6.9). A missing repository counts as empty.
func (r *Repos) Empty(ctx context.Context, id int64) (bool, error) {
	dir := r.Dir(id)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	out, err := (gitexec.Git{Bin: r.GitBin}).Output(ctx, 4<<10, "--git-dir="+dir, "for-each-ref", "--count=1", "--format=x", "refs/heads", "refs/tags")
	if err != nil {
		return false, err
	}
	return len(out) == 0, nil
}
