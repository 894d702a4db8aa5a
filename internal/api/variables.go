package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/httpx"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// Project and group CI/CD variables (GitLab's lib/api/ci/variables.rb and group_variables.rb):
// maintainers of a project, owners of a group (access.ViewCIVariables, AdministerCIVariables).
// Values are sealed at rest by token.VariableService.

// variableJSON is GitLab's Entities::Ci::Variable.
type variableJSON struct {
	VariableType     string  `json:"variable_type"`
	Key              string  `json:"key"`
	Value            string  `json:"value"`
	Protected        bool    `json:"protected"`
	Masked           bool    `json:"masked"`
	Raw              bool    `json:"raw"`
	EnvironmentScope string  `json:"environment_scope"`
	Description      *string `json:"description"`
}

func variableView(v *token.Variable) variableJSON {
	var desc *string
	if v.Description != "" {
		desc = &v.Description
	}
	return variableJSON{VariableType: string(v.Type), Key: v.Key, Value: v.Value.Reveal(), Protected: v.Protected,
		Masked: v.Masked, Raw: v.Raw, EnvironmentScope: v.EnvironmentScope, Description: desc}
}

// variableOwner resolves {id} (a project or a group, by the route) and decides act on it.
func (h *Handler) variableOwner(r *request, act access.Action) (token.Owner, error) {
	if strings.HasPrefix(r.URL.Path, "/api/v4/groups/") {
		g, err := h.group(r, act)
		if err != nil {
			return token.Owner{}, err
		}
		return token.Owner{GroupID: g.ID}, nil
	}
	p, err := h.project(r, act)
	if err != nil {
		return token.Owner{}, err
	}
	return token.Owner{ProjectID: p.ID}, nil
}

func (h *Handler) listVariables(w http.ResponseWriter, r *request) error {
	owner, err := h.variableOwner(r, access.ViewCIVariables)
	if err != nil {
		return err
	}
	if err := onlyParams(r); err != nil {
		return err
	}
	list, err := h.cfg.Variables.List(ctxOf(r), owner)
	if err != nil {
		return err
	}
	out := make([]variableJSON, 0, len(list))
	for _, v := range list {
		out = append(out, variableView(v))
	}
	paginate(w, r, out)
	return nil
}

// scopeFilter is the filter[environment_scope] parameter, as a query string or form field.
const scopeFilter = "filter[environment_scope]"

// variable finds {key} of owner, narrowed by filter[environment_scope]: 404 when none, GitLab's
// 409 when the key exists in several scopes and no filter picks one.
func (h *Handler) variable(r *request, owner token.Owner) (*token.Variable, error) {
	list, err := h.cfg.Variables.List(ctxOf(r), owner)
	if err != nil {
		return nil, err
	}
	key := r.PathValue("key")
	scope, filtered := r.params[scopeFilter]
	var found []*token.Variable
	for _, v := range list {
		if v.Key == key && (!filtered || v.EnvironmentScope == scope[0]) {
			found = append(found, v)
		}
	}
	switch len(found) {
	case 0:
		return nil, notFound("Variable")
	case 1:
		return found[0], nil
	}
	return nil, &apiError{http.StatusConflict, "There are multiple variables with provided parameters. Please use 'filter[environment_scope]'"}
}

func (h *Handler) getVariable(w http.ResponseWriter, r *request) error {
	owner, err := h.variableOwner(r, access.ViewCIVariables)
	if err != nil {
		return err
	}
	if err := onlyParams(r, scopeFilter); err != nil {
		return err
	}
	v, err := h.variable(r, owner)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, variableView(v))
	return nil
}

// variableParams are the attributes POST and PUT take.
var variableParams = []string{"key", "value", "variable_type", "protected", "masked", "raw", "environment_scope", "description"}

// applyVariableParams sets the attributes r carries on v.
func applyVariableParams(r *request, v *token.Variable) error {
	if vs, ok := r.params["value"]; ok {
		v.Value = token.NewSecret(vs[0])
	}
	if vs, ok := r.params["variable_type"]; ok {
		v.Type = token.VariableType(vs[0])
		if v.Type != token.EnvVar && v.Type != token.FileType {
			return invalidValue("variable_type")
		}
	}
	for name, dst := range map[string]*bool{"protected": &v.Protected, "masked": &v.Masked, "raw": &v.Raw} {
		b, err := optBool(r, name)
		if err != nil {
			return err
		}
		if b != nil {
			*dst = *b
		}
	}
	if vs, ok := r.params["environment_scope"]; ok {
		v.EnvironmentScope = vs[0]
	}
	if vs, ok := r.params["description"]; ok {
		v.Description = vs[0]
	}
	return nil
}

// variableError words a taken key as GitLab does.
func variableError(v *token.Variable, err error) error {
	if errors.Is(err, token.ErrVariableTaken) {
		return &errkind.ValidationError{Field: "key", Reason: "(" + v.Key + ") has already been taken"}
	}
	return err
}

func (h *Handler) createVariable(w http.ResponseWriter, r *request) error {
	owner, err := h.variableOwner(r, access.AdministerCIVariables)
	if err != nil {
		return err
	}
	if err := onlyParams(r, variableParams...); err != nil {
		return err
	}
	var missing []string
	for _, name := range []string{"key", "value"} {
		if _, ok := r.params[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return missingParams(missing...)
	}
	v := &token.Variable{Owner: owner, Key: r.params.Get("key")}
	if err := applyVariableParams(r, v); err != nil {
		return err
	}
	if err := h.cfg.Variables.Create(ctxOf(r), v); err != nil {
		return variableError(v, err)
	}
	httpx.WriteJSON(w, http.StatusCreated, variableView(v))
	return nil
}

func (h *Handler) updateVariable(w http.ResponseWriter, r *request) error {
	owner, err := h.variableOwner(r, access.AdministerCIVariables)
	if err != nil {
		return err
	}
	if err := onlyParams(r, append([]string{scopeFilter}, variableParams...)...); err != nil {
		return err
	}
	v, err := h.variable(r, owner)
	if err != nil {
		return err
	}
	// key, as GitLab, is not changed by an update (python-gitlab sends it along).
	if err := applyVariableParams(r, v); err != nil {
		return err
	}
	if err := h.cfg.Variables.Update(ctxOf(r), v); err != nil {
		return variableError(v, err)
	}
	httpx.WriteJSON(w, http.StatusOK, variableView(v))
	return nil
}

func (h *Handler) deleteVariable(w http.ResponseWriter, r *request) error {
	owner, err := h.variableOwner(r, access.AdministerCIVariables)
	if err != nil {
		return err
	}
	if err := onlyParams(r, scopeFilter); err != nil {
		return err
	}
	v, err := h.variable(r, owner)
	if err != nil {
		return err
	}
	if err := h.cfg.Variables.Delete(ctxOf(r), v.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
