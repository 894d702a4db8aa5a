package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The API's declarative parameter layer. An endpoint declares its parameters once, as GitLab's
// endpoints do with Grape's `params do … end`, and calls check before it reads any of them:
//
//	var listThingsParams = params{
//		{name: "search", typ: tString},
//		{name: "active", typ: tBool},
//		{name: "order_by", typ: tString, values: []string{"id", "name"}},
//		{name: "statistics", unsupported: true},
//	}.with(pagingParams)
//
//	func (h *Handler) listThings(w http.ResponseWriter, r *request) error {
//		if err := listThingsParams.check(r); err != nil {
//			return err
//		}
//		…
//
// check reports every problem at once in Grape's words and format (400
// {"error":"name is missing, scopes does not have a valid value"}): a required parameter absent,
// a value that is not of its type, a value outside its allowed values, a parameter GitLab has
// that Gatehouse does not support, and any parameter the endpoint does not declare. Nothing a
// client sends is silently ignored. Path parameters ({id}) are not in r.params; read integer
// ones with pathInt.

// paramType is what a parameter's values must parse as.
type paramType int

const (
	tString paramType = iota
	tInt
	tBool
	// tList is an array of strings: repeated values (JSON array, a[]=x&a[]=y) or one
	// comma-separated value, as GitLab's CommaSeparatedToArray coerces.
	tList
	// tIntList is tList whose every element is an integer.
	tIntList
)

// param declares one parameter of an endpoint.
type param struct {
	name     string
	typ      paramType
	required bool
	// values, when set, are the only values allowed (each element, for lists).
	values []string
	// unsupported marks a parameter GitLab's endpoint has that Gatehouse does not implement:
	// refused with 400 rather than ignored.
	unsupported bool
}

// params is an endpoint's parameter declaration.
type params []param

// with returns ps followed by more (shared groups such as pagingParams).
func (ps params) with(more ...params) params {
	out := slices.Clone(ps)
	for _, m := range more {
		out = append(out, m...)
	}
	return out
}

// paramsError is a request whose parameters fail their declaration; writeError answers 400
// with Grape's {"error": "<problems, comma-separated>"}.
type paramsError struct{ problems []string }

func (e *paramsError) Error() string { return strings.Join(e.problems, ", ") }

// invalidParam is the paramsError for one parameter: "<name> is invalid" (Grape's wording for
// a value of the wrong type).
func invalidParam(name string) error { return &paramsError{[]string{name + " is invalid"}} }

// missingParams is the paramsError for required parameters absent: "<name> is missing, …".
func missingParams(names ...string) error {
	problems := make([]string, len(names))
	for i, n := range names {
		problems[i] = n + " is missing"
	}
	return &paramsError{problems}
}

// unsupportedParam is the paramsError for a parameter Gatehouse refuses: "<name> is not
// supported by Gatehouse", with why appended when the refusal depends on the value or setup.
func unsupportedParam(name, why string) error {
	msg := name + " is not supported by Gatehouse"
	if why != "" {
		msg += ": " + why
	}
	return &paramsError{[]string{msg}}
}

// check validates r's parameters against ps (see the package comment above).
func (ps params) check(r *request) error {
	var problems []string
	for _, p := range ps {
		vs, present := r.params[p.name]
		if present && allBlank(vs) && p.typ != tString && p.typ != tList {
			// Grape coerces an empty value of a non-string type to nil: as if absent.
			present = false
		}
		switch {
		case !present:
			if p.required {
				problems = append(problems, p.name+" is missing")
			}
		case p.unsupported:
			problems = append(problems, p.name+" is not supported by Gatehouse")
		default:
			if msg := p.validate(vs); msg != "" {
				problems = append(problems, p.name+" "+msg)
			}
		}
	}
	var unknown []string
	for k := range r.params {
		if !slices.ContainsFunc(ps, func(p param) bool { return p.name == k }) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		problems = append(problems, k+" is not supported by Gatehouse")
	}
	if len(problems) > 0 {
		return &paramsError{problems}
	}
	return nil
}

// validate returns Grape's complaint about vs ("is invalid", "does not have a valid value"), or "".
func (p param) validate(vs []string) string {
	var elems []string
	switch p.typ {
	case tList, tIntList:
		elems = splitList(vs)
	default:
		if len(vs) > 1 {
			return "is invalid"
		}
		elems = vs
	}
	for _, v := range elems {
		switch p.typ {
		case tInt, tIntList:
			if _, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
				return "is invalid"
			}
		case tBool:
			if _, ok := parseBool(v); !ok {
				return "is invalid"
			}
		}
		if p.values != nil && !slices.Contains(p.values, v) {
			return "does not have a valid value"
		}
	}
	return ""
}

func allBlank(vs []string) bool {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// splitList reads a list parameter: repeated values, each possibly comma-separated; blanks are
// dropped, so "scopes=" is an empty list.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// parseBool reads a boolean as Grape does (dry-types' Params::Bool): "true", "t", "yes", "y",
// "on", "1" and "false", "f", "no", "n", "off", "0", in any case; anything else is not a boolean.
// python-gitlab sends Python's "True" in query strings.
func parseBool(v string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "t", "yes", "y", "on", "1":
		return true, true
	case "false", "f", "no", "n", "off", "0":
		return false, true
	}
	return false, false
}

// pathInt reads an integer path parameter ({token_id}, {user_id}); a non-integer is Grape's 400
// "<name> is invalid", as GitLab declares these `type: Integer`.
func pathInt(r *request, name string) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil {
		return 0, invalidParam(name)
	}
	return n, nil
}

// validationMessage renders a model validation failure as GitLab's render_validation_error! does:
// 400 {"message": {"<field>": ["<text>"]}}.
func validationMessage(field, reason string) map[string]map[string][]string {
	return map[string]map[string][]string{"message": {field: {reason}}}
}

// fullMessage is Rails' full message of a model error, "<Field> <reason>" ("Scopes can't be
// blank"), which some GitLab endpoints (deploy tokens) answer as a plain {"message"} string.
func fullMessage(field, reason string) string {
	f := strings.ReplaceAll(field, "_", " ")
	if f == "" {
		return reason
	}
	return strings.ToUpper(f[:1]) + f[1:] + " " + reason
}

// writeParamsError writes e as Grape does.
func writeParamsError(w http.ResponseWriter, e *paramsError) {
	writeJSONError(w, http.StatusBadRequest, e.Error())
}
