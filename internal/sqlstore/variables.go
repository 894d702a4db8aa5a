package sqlstore

import (
	"context"
	"database/sql"

	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// VariableStore keeps CI/CD variables, their values sealed by the token package.
type VariableStore struct{ *conn }

var _ token.VariableStore = (*VariableStore)(nil)

const variableCols = `id, project_id, group_id, var_key, sealed_value, variable_type, protected, masked, raw, environment_scope, description, created_at`

func scanVariable(row scanner) (*token.Variable, error) {
	var v token.Variable
	var project, group sql.NullInt64
	var typ string
	var created int64
	if err := row.Scan(&v.ID, &project, &group, &v.Key, &v.SealedValue, &typ, &v.Protected, &v.Masked, &v.Raw,
		&v.EnvironmentScope, &v.Description, &created); err != nil {
		return nil, err
	}
	v.Owner = token.Owner{ProjectID: project.Int64, GroupID: group.Int64}
	v.Type, v.CreatedAt = token.VariableType(typ), fromUnix(created)
	return &v, nil
}

// ListVariables implements token.VariableStore.
func (s *VariableStore) ListVariables(ctx context.Context, owner token.Owner) ([]*token.Variable, error) {
	col, id := "project_id", owner.ProjectID
	if owner.ProjectID == 0 {
		col, id = "group_id", owner.GroupID
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+variableCols+` FROM ci_variables WHERE `+col+` = ? ORDER BY var_key, environment_scope`), id)
	list, err := collect(rows, err, scanVariable)
	return list, kindErr("list variables", err)
}

// CreateVariable implements token.VariableStore.
func (s *VariableStore) CreateVariable(ctx context.Context, v *token.Variable) error {
	id, err := s.insertID(ctx, s.db, `INSERT INTO ci_variables (project_id, group_id, var_key, sealed_value, variable_type, protected, masked, raw, environment_scope, description, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, nullID(v.Owner.ProjectID), nullID(v.Owner.GroupID), v.Key, v.SealedValue, string(v.Type),
		v.Protected, v.Masked, v.Raw, v.EnvironmentScope, v.Description, unixTime(v.CreatedAt))
	if err != nil {
		return kindErr("create variable", s.classify(err))
	}
	v.ID = id
	return nil
}

// UpdateVariable implements token.VariableStore.
func (s *VariableStore) UpdateVariable(ctx context.Context, v *token.Variable) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE ci_variables SET sealed_value = ?, variable_type = ?, protected = ?, masked = ?, raw = ?, environment_scope = ?, description = ? WHERE id = ?`),
		v.SealedValue, string(v.Type), v.Protected, v.Masked, v.Raw, v.EnvironmentScope, v.Description, v.ID)
	return kindErr("update variable", affectedOne(res, s.classify(err)))
}

// DeleteVariable implements token.VariableStore.
func (s *VariableStore) DeleteVariable(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM ci_variables WHERE id = ?`), id)
	return kindErr("delete variable", affectedOne(res, err))
}
