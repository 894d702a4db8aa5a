package audit

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// summaryMarker follows the count at the start of a summary row's details (aggregate.summary).
const summaryMarker = " more like this between "

// Occurrences is how many events e stands for (docs/design.md §8.4): the count a summary row
// holds of the events aggregated into it, else 1.
func Occurrences(e *Event) int64 {
	if e.Type != AuthenticationFailed && e.Type != DeployTokenRefused {
		return 1
	}
	count, _, ok := strings.Cut(e.Details, summaryMarker)
	if !ok {
		return 1
	}
	n, err := strconv.ParseInt(count, 10, 64)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// RefusalsPerDay counts deploy token tokenID's refusals per UTC day (00:00 of the day) from
// from on, in the events of the project or group entityType/entityID: the token's own log holds
// its refusals there and out of its reach (docs/design.md §8.3). A summary row counts the
// refusals aggregated into it; those still in an open window are not written yet.
func (l *Log) RefusalsPerDay(ctx context.Context, entityType string, entityID, tokenID int64, from time.Time) (map[time.Time]int64, error) {
	events, err := l.List(ctx, entityType, entityID)
	if err != nil {
		return nil, err
	}
	out := map[time.Time]int64{}
	for _, e := range events {
		if e.Type != DeployTokenRefused || e.ActorKind != "deploy_token" || e.ActorID != tokenID {
			continue
		}
		c := e.CreatedAt.UTC()
		if day := time.Date(c.Year(), c.Month(), c.Day(), 0, 0, 0, 0, time.UTC); !day.Before(from) {
			out[day] += Occurrences(e)
		}
	}
	return out, nil
}
