package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/sophia-pbx/sophia/config"
)

// classifyStore maps the store's errors to answers; nil: not one of them.
func classifyStore(err error) *apiError {
	var ve *config.ValidationError
	var iu *config.InUseError
	switch {
	case errors.As(err, &ve):
		e := &apiError{status: http.StatusUnprocessableEntity, code: CodeInvalid,
			message: "the input is invalid: " + ve.Error()}
		for _, p := range ve.Problems {
			e.fields = append(e.fields, FieldError{p.Path, p.Reason})
		}
		return e
	case errors.As(err, &iu):
		e := errorf(http.StatusConflict, CodeInUse, "still in use by %s", strings.Join(iu.Users, ", "))
		for _, u := range iu.Users {
			e.fields = append(e.fields, FieldError{"user:" + u, "references it"})
		}
		return e
	case errors.Is(err, config.ErrInUse):
		return errorf(http.StatusConflict, CodeInUse, "still in use")
	case errors.Is(err, config.ErrNotFound):
		return errNotFound
	case errors.Is(err, config.ErrVersionConflict):
		return errorf(http.StatusConflict, CodeConflict,
			"the version given is not the stored one (or it already exists): GET it again and retry")
	}
	return nil
}
