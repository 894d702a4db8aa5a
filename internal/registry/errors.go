package registry

import (
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

// The registry's own distribution-spec codes (and the statuses Gatehouse answers them with),
// beside the ones it shares with the dependency proxy (ocihttp.Code*).
var (
	codeBlobUploadUnknown   = ocihttp.Code{Name: "BLOB_UPLOAD_UNKNOWN", Status: http.StatusNotFound, Message: "blob upload unknown to registry"}
	codeRangeInvalid        = ocihttp.Code{Name: "BLOB_UPLOAD_INVALID", Status: http.StatusRequestedRangeNotSatisfiable, Message: "chunk out of order"}
	codeRangeNotSatisfiable = ocihttp.Code{Name: "BLOB_UNKNOWN", Status: http.StatusRequestedRangeNotSatisfiable, Message: "requested range not satisfiable"}
	codeManifestBlobUnknown = ocihttp.Code{Name: "MANIFEST_BLOB_UNKNOWN", Status: http.StatusBadRequest, Message: "manifest references a manifest or blob unknown to registry"}
	codeManifestInvalid     = ocihttp.Code{Name: "MANIFEST_INVALID", Status: http.StatusBadRequest, Message: "manifest invalid"}
	codeManifestTooLarge    = ocihttp.Code{Name: "SIZE_INVALID", Status: http.StatusRequestEntityTooLarge, Message: "manifest too large"}
	codeSizeInvalid         = ocihttp.Code{Name: "SIZE_INVALID", Status: http.StatusBadRequest, Message: "provided length did not match content length"}
	codeBadRequest          = ocihttp.Code{Name: "UNSUPPORTED", Status: http.StatusBadRequest, Message: "the request is not supported"}
	codeTagsTooMany         = ocihttp.Code{Name: "UNSUPPORTED", Status: http.StatusRequestURITooLong, Message: "too many tags in one request"}
)

// writeError is the registry's one error writer (ocihttp.Answer), which also answers a
// manifest's missing references as MANIFEST_BLOB_UNKNOWN.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *ocihttp.Error
	if !errors.As(err, &e) && errors.Is(err, oci.ErrMissingReference) {
		e = &ocihttp.Error{Code: codeManifestBlobUnknown}
		var me *oci.MissingError
		if errors.As(err, &me) && len(me.Digests) > 0 {
			e.Detail = me.Digests[0]
		}
		err = e
	}
	ocihttp.Answer(w, r, h.log, err)
}
