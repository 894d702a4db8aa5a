package registry

import (
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

// writeError is the registry's one error writer (ocihttp.Answer), which also answers a
// manifest's missing references as MANIFEST_BLOB_UNKNOWN.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *ocihttp.Error
	if !errors.As(err, &e) && errors.Is(err, oci.ErrMissingReference) {
		e = &ocihttp.Error{Code: ocihttp.CodeManifestBlobUnknown}
		var me *oci.MissingError
		if errors.As(err, &me) && len(me.Digests) > 0 {
			e.Detail = me.Digests[0]
		}
		err = e
	}
	ocihttp.Answer(w, r, h.cfg.Log, err)
}
