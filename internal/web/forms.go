package web

// formErrors collects the messages of a form shown again with its values: by field (next to
// each control) and in order (the summary at the top).
type formErrors struct {
	Errors    map[string]string
	ErrorList []string
}

// add records msg for field, once per field.
func (e *formErrors) add(field, msg string) {
	if e.Errors == nil {
		e.Errors = map[string]string{}
	}
	if _, dup := e.Errors[field]; dup {
		return
	}
	e.Errors[field] = msg
	e.ErrorList = append(e.ErrorList, msg)
}
