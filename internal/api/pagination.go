package api

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/httpx"
)

// Pagination, as GitLab's REST API does it (docs/gitlab-compatibility.md). Every list endpoint
// answers through one of two calls, with the whole list already filtered and ordered:
//
//	paginate(w, r, items)               // offset pagination only
//	paginateKeyset(w, r, items, ks)     // offset, or keyset where GitLab offers it for this list
//
// and declares pagingParams (or keysetParams) in its params, so page, per_page and
// pagination are checked like any other parameter. Offset pagination answers page (default 1)
// of per_page items (default 20, at most 100) with X-Page, X-Per-Page, X-Total, X-Total-Pages,
// X-Next-Page, X-Prev-Page and a Link with rel prev, next, first and last. Keyset pagination
// (pagination=keyset) answers per_page items after the cursor with only a Link rel="next" while
// more remain; a list that does not offer it, or not for the order asked, answers GitLab's 405.
//
// To order a list, declare an orders table (order_by value → sort key) and call orderBy; a
// keyset over the same table pages it.

// pagingParams are the parameters every paginated list takes.
var pagingParams = params{
	{name: "page", typ: tInt},
	{name: "per_page", typ: tInt},
	{name: "pagination", typ: tString, values: []string{"offset", "keyset"}},
}

// keysetParams are pagingParams plus the cursors keyset Links carry.
var keysetParams = pagingParams.with(params{
	{name: "id_after", typ: tInt},
	{name: "id_before", typ: tInt},
	{name: "cursor", typ: tString},
})

const (
	defaultPerPage = 20
	maxPerPage     = 100
)

// readPage reads page and per_page as GitLab does: non-integers refused, page below 1 is 1,
// per_page below 1 the default and above 100 capped.
func readPage(r *request) (page, per int, err error) {
	p, err := intParam(r, "page")
	if err != nil {
		return 0, 0, err
	}
	pp, err := intParam(r, "per_page")
	if err != nil {
		return 0, 0, err
	}
	page, per = int(max(p, 1)), int(pp)
	if pp < 1 {
		per = defaultPerPage
	}
	return page, min(per, maxPerPage), nil
}

// errKeysetUnavailable is GitLab's answer to pagination=keyset where it is not offered.
var errKeysetUnavailable = &bodyError{http.StatusMethodNotAllowed,
	map[string]string{"error": "Keyset pagination is not yet available for this type of request"}}

// paginate writes one page of items with GitLab's offset pagination headers; see the comment at
// the top of this file.
func paginate[T any](w http.ResponseWriter, r *request, items []T) {
	if r.params.Get("pagination") == "keyset" {
		writeEarlyError(w, errKeysetUnavailable)
		return
	}
	page, per, err := readPage(r)
	if err != nil {
		writeEarlyError(w, err)
		return
	}
	total := len(items)
	pages := max(1, (total+per-1)/per)
	start := min((page-1)*per, total)
	end := min(start+per, total)
	h := w.Header()
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(per))
	h.Set("X-Total", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	h.Set("X-Next-Page", "")
	h.Set("X-Prev-Page", "")
	var links []string
	link := func(n int, rel string) {
		links = append(links, `<`+pageURL(r, url.Values{"page": {strconv.Itoa(n)}, "per_page": {strconv.Itoa(per)}})+`>; rel="`+rel+`"`)
	}
	if page > 1 {
		prev := min(page-1, pages)
		h.Set("X-Prev-Page", strconv.Itoa(prev))
		link(prev, "prev")
	}
	if page < pages {
		h.Set("X-Next-Page", strconv.Itoa(page+1))
		link(page+1, "next")
	}
	link(1, "first")
	link(pages, "last")
	h.Set("Link", strings.Join(links, ", "))
	writeItems(w, items[start:end])
}

func writeItems[T any](w http.ResponseWriter, items []T) {
	if items == nil {
		items = []T{}
	}
	httpx.WriteJSON(w, http.StatusOK, items)
}

// writeEarlyError answers a pagination error in the API's formats (paginate has no Handler).
func writeEarlyError(w http.ResponseWriter, err error) {
	if be, ok := err.(*bodyError); ok {
		httpx.WriteJSON(w, be.status, be.body)
		return
	}
	if pe, ok := err.(*paramsError); ok {
		writeParamsError(w, pe)
		return
	}
	writeMessage(w, http.StatusBadRequest, "400 Bad Request")
}

// pageURL is r's URL with set replacing parameters (and without the private_token secret, which
// is never echoed into a header clients and proxies may log; the client authenticates the next
// page as it did this one).
func pageURL(r *request, set url.Values) string {
	u := *r.URL
	q := u.Query()
	q.Del("private_token")
	for k, v := range set {
		if v == nil {
			q.Del(k)
		} else {
			q[k] = v
		}
	}
	u.RawQuery = q.Encode()
	return externalPath(r, &u)
}

// externalPath renders u as an absolute URL for Link headers: under the configured external URL,
// so clients behind a TLS-terminating proxy (python-gitlab follows Link) stay on the public
// address, or else on the request's own host.
func externalPath(r *request, u *url.URL) string {
	if r.external != "" {
		return strings.TrimRight(r.external, "/") + u.RequestURI()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + u.RequestURI()
}

// orders maps each order_by value a list accepts to the key items sort by (sortKey makes
// numbers and times comparable as strings); ties break on id.
type orders[T any] map[string]func(T) string

// orderBy sorts items in place by order_by (default def) and sort (asc or desc, default
// defSort), ties broken by id in the same direction. Unknown values are refused with Grape's
// "does not have a valid value"; declare order_by and sort as tString so this reports them.
func orderBy[T any](r *request, items []T, os orders[T], id func(T) int64, def, defSort string) error {
	by, dir := r.params.Get("order_by"), r.params.Get("sort")
	if by == "" {
		by = def
	}
	if dir == "" {
		dir = defSort
	}
	var problems []string
	key, ok := os[by]
	if !ok {
		problems = append(problems, "order_by does not have a valid value")
	}
	if dir != "asc" && dir != "desc" {
		problems = append(problems, "sort does not have a valid value")
	}
	if problems != nil {
		return &paramsError{problems}
	}
	slices.SortStableFunc(items, func(a, b T) int {
		c := cmp.Or(strings.Compare(key(a), key(b)), cmp.Compare(id(a), id(b)))
		if dir == "desc" {
			return -c
		}
		return c
	})
	return nil
}

// keyset describes the keyset pagination GitLab offers for a list.
type keysetPaging[T any] struct {
	id   func(T) int64
	keys orders[T] // the list's orders table
	// by lists the order_by values keyset pagination offers; sorts the sort values (nil: both).
	by, sorts []string
	// def and defSort are the list's default order (orderBy's).
	def, defSort string
	// anonymousOnly: offered only to unauthenticated requests (GitLab's groups).
	anonymousOnly bool
}

// keysetCursor is the cursor parameter: the last item's sort key and id, base64url JSON.
type keysetCursor struct {
	Key string `json:"key"`
	ID  int64  `json:"id"`
}

// paginateKeyset writes items (ordered by orderBy with ks's table) with keyset pagination when
// the request asks for it, or else with paginate.
func paginateKeyset[T any](w http.ResponseWriter, r *request, items []T, ks keysetPaging[T]) {
	if r.params.Get("pagination") != "keyset" {
		paginate(w, r, items)
		return
	}
	by, dir := cmp.Or(r.params.Get("order_by"), ks.def), cmp.Or(r.params.Get("sort"), ks.defSort)
	if !slices.Contains(ks.by, by) || (ks.sorts != nil && !slices.Contains(ks.sorts, dir)) ||
		(ks.anonymousOnly && r.principal.User != nil) {
		writeEarlyError(w, errKeysetUnavailable)
		return
	}
	_, per, err := readPage(r)
	if err != nil {
		writeEarlyError(w, err)
		return
	}
	key := ks.keys[by]
	desc := dir == "desc"
	// after reports whether item x comes after the cursor (k, id) in the list's order.
	var after func(x T) bool
	switch {
	case by == "id" && r.params.Get("id_after") != "":
		n, _ := intParam(r, "id_after")
		after = func(x T) bool { return ks.id(x) > n }
	case by == "id" && r.params.Get("id_before") != "":
		n, _ := intParam(r, "id_before")
		after = func(x T) bool { return ks.id(x) < n }
	case r.params.Get("cursor") != "":
		raw, err := base64.RawURLEncoding.DecodeString(r.params.Get("cursor"))
		var c keysetCursor
		if err != nil || json.Unmarshal(raw, &c) != nil {
			writeEarlyError(w, invalidParam("cursor"))
			return
		}
		after = func(x T) bool {
			o := cmp.Or(strings.Compare(key(x), c.Key), cmp.Compare(ks.id(x), c.ID))
			return (o > 0) != desc && o != 0
		}
	default:
		after = func(T) bool { return true }
	}
	start := slices.IndexFunc(items, after)
	if start < 0 {
		start = len(items)
	}
	end := min(start+per, len(items))
	page := items[start:end]
	if end < len(items) {
		last := page[len(page)-1]
		set := url.Values{"page": nil, "id_after": nil, "id_before": nil, "cursor": nil}
		switch {
		case by == "id" && desc:
			set["id_before"] = []string{strconv.FormatInt(ks.id(last), 10)}
		case by == "id":
			set["id_after"] = []string{strconv.FormatInt(ks.id(last), 10)}
		default:
			c, _ := json.Marshal(keysetCursor{Key: key(last), ID: ks.id(last)})
			set["cursor"] = []string{base64.RawURLEncoding.EncodeToString(c)}
		}
		w.Header().Set("Link", `<`+pageURL(r, set)+`>; rel="next"`)
	}
	writeItems(w, page)
}
