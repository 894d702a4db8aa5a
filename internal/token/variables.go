package token

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
)

// Variable is a project's or group's CI/CD variable (GitLab's Ci::Variable and
// Ci::GroupVariable). Its value is a secret: sealed at rest like the CI deploy token's
// (seal.go), readable only through VariableService.
type Variable struct {
	ID int64
	// Owner is the project or the group (exactly one id set).
	Owner Owner
	Key   string
	Value Secret
	// SealedValue is Value as stored: nonce || AES-GCM ciphertext, bound to the owner and key.
	SealedValue      []byte
	Type             VariableType
	Protected        bool
	Masked           bool
	Raw              bool
	EnvironmentScope string
	Description      string
	CreatedAt        time.Time
}

// VariableType is env_var or file, as GitLab.
type VariableType string

// The two variable types.
const (
	EnvVar   VariableType = "env_var"
	FileType VariableType = "file"
)

// VariableStore keeps CI/CD variables; it never sees a plain value.
type VariableStore interface {
	// ListVariables returns the owner's variables by key, then environment scope.
	ListVariables(ctx context.Context, owner Owner) ([]*Variable, error)
	// CreateVariable inserts v and assigns its ID; errkind.ErrConflict when the owner has the
	// key in that environment scope already.
	CreateVariable(ctx context.Context, v *Variable) error
	// UpdateVariable stores v's fields by ID; errkind.ErrConflict as CreateVariable,
	// errkind.ErrNotFound when there is none.
	UpdateVariable(ctx context.Context, v *Variable) error
	// DeleteVariable removes variable id, or errkind.ErrNotFound.
	DeleteVariable(ctx context.Context, id int64) error
}

// VariableService manages CI/CD variables with GitLab's validation.
type VariableService struct {
	store  VariableStore
	sealer *Sealer
	now    func() time.Time
}

// NewVariableService returns a service over store, sealing values with sealer; now may be nil.
func NewVariableService(store VariableStore, sealer *Sealer, now func() time.Time) *VariableService {
	if now == nil {
		now = time.Now
	}
	return &VariableService{store: store, sealer: sealer, now: now}
}

// maskableRE is GitLab's rule for a masked value (Ci::Maskable): one line of 8 or more
// characters of the Base64 alphabet plus '@', ':', '.' and '~'.
var maskableRE = regexp.MustCompile(`\A[a-zA-Z0-9_+=/@:.~-]{8,}\z`)

var variableKeyRE = regexp.MustCompile(`\A[a-zA-Z0-9_]+\z`)

// binding is what a sealed value is bound to: a value copied to another owner or key does not
// open.
func (v *Variable) binding() []byte {
	return []byte("ci-variable/" + strconv.FormatInt(v.Owner.ProjectID, 10) + "/" + strconv.FormatInt(v.Owner.GroupID, 10) + "/" + v.Key)
}

// validate applies GitLab's model validations, as *errkind.ValidationError on the field.
func (v *Variable) validate() error {
	switch {
	case v.Key == "":
		return &errkind.ValidationError{Field: "key", Reason: "can't be blank"}
	case len(v.Key) > 255:
		return &errkind.ValidationError{Field: "key", Reason: "is too long (maximum is 255 characters)"}
	case !variableKeyRE.MatchString(v.Key):
		return &errkind.ValidationError{Field: "key", Reason: "can contain only letters, digits and '_'."}
	case v.Type != EnvVar && v.Type != FileType:
		return &errkind.ValidationError{Field: "variable_type", Reason: "does not have a valid value"}
	case v.Masked && !maskableRE.MatchString(v.Value.Reveal()):
		return &errkind.ValidationError{Field: "value", Reason: "is invalid"}
	case strings.TrimSpace(v.EnvironmentScope) == "":
		return &errkind.ValidationError{Field: "environment_scope", Reason: "can't be blank"}
	case len(v.EnvironmentScope) > 255:
		return &errkind.ValidationError{Field: "environment_scope", Reason: "is too long (maximum is 255 characters)"}
	}
	return nil
}

// ErrVariableTaken: the owner has the key in that environment scope already (GitLab's
// "(KEY) has already been taken" on key).
var ErrVariableTaken = errors.New("variable key has already been taken")

// seal validates v and seals its value.
func (s *VariableService) seal(v *Variable) error {
	if err := v.validate(); err != nil {
		return err
	}
	sealed, err := s.sealer.Seal([]byte(v.Value.Reveal()), v.binding())
	if err != nil {
		return fmt.Errorf("seal variable: %w", err)
	}
	v.SealedValue = sealed
	return nil
}

// List returns the owner's variables with their values opened.
func (s *VariableService) List(ctx context.Context, owner Owner) ([]*Variable, error) {
	list, err := s.store.ListVariables(ctx, owner)
	if err != nil {
		return nil, err
	}
	for _, v := range list {
		plain, err := s.sealer.Open(v.SealedValue, v.binding())
		if err != nil {
			return nil, fmt.Errorf("variable %d: %w", v.ID, err)
		}
		v.Value = NewSecret(string(plain))
	}
	return list, nil
}

// Create validates v (GitLab's defaults: env_var, scope "*"), seals its value and stores it;
// it returns a *errkind.ValidationError or ErrVariableTaken.
func (s *VariableService) Create(ctx context.Context, v *Variable) error {
	if v.Type == "" {
		v.Type = EnvVar
	}
	if v.EnvironmentScope == "" {
		v.EnvironmentScope = "*"
	}
	v.CreatedAt = s.now()
	if err := s.seal(v); err != nil {
		return err
	}
	return taken(s.store.CreateVariable(ctx, v))
}

// Update validates and stores v (as List returned it, changed), sealing its value again.
func (s *VariableService) Update(ctx context.Context, v *Variable) error {
	if err := s.seal(v); err != nil {
		return err
	}
	return taken(s.store.UpdateVariable(ctx, v))
}

// Delete removes variable id.
func (s *VariableService) Delete(ctx context.Context, id int64) error {
	return s.store.DeleteVariable(ctx, id)
}

func taken(err error) error {
	if errors.Is(err, errkind.ErrConflict) {
		return ErrVariableTaken
	}
	return err
}
