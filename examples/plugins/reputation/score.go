package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ScoreRequest is the input of score. tc and tq are the indicator objects
// the two connectors return, passed through as they are; either may be
// missing or null.
type ScoreRequest struct {
	Indicator string  `json:"indicator"`
	TC        *TCData `json:"tc"`
	TQ        *TQData `json:"tq"`
}

// TCData is the part of a ThreatConnect indicator that score reads.
type TCData struct {
	Rating     *number `json:"rating"`
	Confidence *number `json:"confidence"`
	// ThreatAssessRating stands in for rating when the indicator has none
	// of its own (fields=threatAssess).
	ThreatAssessRating *number `json:"threatAssessRating"`
	Active             *bool   `json:"active"`
	Tags               tags    `json:"tags"`
}

// TQData is the part of a ThreatQ indicator that score reads.
type TQData struct {
	Score  *tqScore `json:"score"`
	Status named    `json:"status"`
	Tags   tags     `json:"tags"`
}

// ScoreResult is the output of score.
type ScoreResult struct {
	Indicator  string   `json:"indicator"`
	Verdict    string   `json:"verdict"`
	Rating     float64  `json:"rating"`
	Confidence int      `json:"confidence"`
	Reasons    []string `json:"reasons"`
}

// The verdicts score returns.
const (
	VerdictMalicious  = "malicious"
	VerdictSuspicious = "suspicious"
	VerdictBenign     = "benign"
	VerdictUnknown    = "unknown"
)

// statusWeight is how much a ThreatQ score counts, by the indicator's
// status: an expired indicator says little about today.
var statusWeight = map[string]float64{
	"active":   0.8,
	"review":   0.5,
	"indirect": 0.4,
	"expired":  0.2,
}

const (
	defaultTQWeight     = 0.5
	defaultTCConfidence = 50
	// threatTagRating is the least rating an indicator tagged as a threat
	// gets, and threatTagWeight how much the tag adds to the confidence.
	threatTagRating = 4
	threatTagWeight = 0.3
)

// threatTags are tags that mark an indicator as part of an attack.
var threatTags = []string{"apt", "botnet", "c2", "exploit", "malware", "phishing", "ransomware", "trojan"}

// Score computes a verdict with a fixed, documented formula, so the same
// input always gives the same output:
//
//   - Whitelisted in ThreatQ: benign, rating 0, confidence 90; nothing else counts.
//   - ThreatConnect signal, when tc has a rating (or threatAssessRating):
//     rating r1 = rating clamped to 0..5; weight w1 = confidence/100
//     (confidence 50 when absent), halved when the indicator is inactive.
//   - ThreatQ signal, when tq has a score (a number, or an object where
//     manual_score wins over generated_score): r2 = score clamped to 0..10,
//     halved to the 0..5 scale; weight w2 by status: Active 0.8, Review 0.5,
//     Indirect 0.4, Expired 0.2, anything else 0.5.
//   - rating = (w1*r1 + w2*r2) / (w1 + w2), or the plain mean if both
//     weights are 0; a threat tag (apt, botnet, c2, exploit, malware,
//     phishing, ransomware, trojan) on either side raises it to at least 4
//     and counts as a third signal of weight 0.3. Rounded to one decimal.
//   - confidence = round(100 * (1 - (1-w1)(1-w2)(1-w3))), the chance that
//     at least one signal is right, with an absent signal at weight 0.
//   - verdict: no signal at all is unknown; rating >= 4 with confidence
//     >= 50 is malicious; rating >= 2.5 is suspicious; confidence below 25
//     is unknown; anything else is benign.
func Score(req ScoreRequest) ScoreResult {
	res := ScoreResult{Indicator: req.Indicator, Verdict: VerdictUnknown, Reasons: []string{}}
	if req.TQ != nil && strings.EqualFold(string(req.TQ.Status), "whitelisted") {
		res.Verdict, res.Confidence = VerdictBenign, 90
		res.Reasons = append(res.Reasons, "whitelisted in ThreatQ")
		return res
	}

	var ratings, weights []float64
	if tc := req.TC; tc != nil {
		r := tc.Rating
		if r == nil {
			r = tc.ThreatAssessRating
		}
		if r != nil {
			rating := clamp(float64(*r), 0, 5)
			conf := float64(defaultTCConfidence)
			if tc.Confidence != nil {
				conf = clamp(float64(*tc.Confidence), 0, 100)
			}
			w := conf / 100
			reason := fmt.Sprintf("ThreatConnect rating %s at confidence %s", trim(rating), trim(conf))
			if tc.Active != nil && !*tc.Active {
				w /= 2
				reason += " (inactive, counted at half weight)"
			}
			ratings, weights = append(ratings, rating), append(weights, w)
			res.Reasons = append(res.Reasons, reason)
		}
	}
	if tq := req.TQ; tq != nil && tq.Score != nil && tq.Score.ok {
		score := clamp(tq.Score.value, 0, 10)
		w, known := statusWeight[strings.ToLower(string(tq.Status))]
		if !known {
			w = defaultTQWeight
		}
		reason := fmt.Sprintf("ThreatQ score %s/10", trim(score))
		if tq.Status != "" {
			reason += fmt.Sprintf(" with status %s", tq.Status)
		}
		ratings, weights = append(ratings, score/2), append(weights, w)
		res.Reasons = append(res.Reasons, reason)
	}
	tag := threatTag(req)

	if len(ratings) == 0 && tag == "" {
		res.Reasons = append(res.Reasons, "neither ThreatConnect nor ThreatQ has a rating or score")
		return res
	}

	var rating float64
	if len(ratings) > 0 {
		var sum, total float64
		for i, r := range ratings {
			sum += weights[i] * r
			total += weights[i]
		}
		if total > 0 {
			rating = sum / total
		} else {
			for _, r := range ratings {
				rating += r
			}
			rating /= float64(len(ratings))
		}
	}
	if tag != "" {
		rating = math.Max(rating, threatTagRating)
		weights = append(weights, threatTagWeight)
		res.Reasons = append(res.Reasons, fmt.Sprintf("tagged %q", tag))
	}
	doubt := 1.0
	for _, w := range weights {
		doubt *= 1 - w
	}
	res.Rating = math.Round(rating*10) / 10
	res.Confidence = int(math.Round(100 * (1 - doubt)))

	switch {
	case res.Rating >= 4 && res.Confidence >= 50:
		res.Verdict = VerdictMalicious
	case res.Rating >= 2.5:
		res.Verdict = VerdictSuspicious
	case res.Confidence < 25:
		res.Verdict = VerdictUnknown
	default:
		res.Verdict = VerdictBenign
	}
	return res
}

// threatTag returns the first threat tag found on either side, in the
// order ThreatConnect, ThreatQ.
func threatTag(req ScoreRequest) string {
	var all []string
	if req.TC != nil {
		all = append(all, req.TC.Tags...)
	}
	if req.TQ != nil {
		all = append(all, req.TQ.Tags...)
	}
	for _, t := range all {
		for _, threat := range threatTags {
			if strings.EqualFold(strings.TrimSpace(t), threat) {
				return t
			}
		}
	}
	return ""
}

func clamp(v, lo, hi float64) float64 { return math.Min(math.Max(v, lo), hi) }

func trim(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// number decodes a JSON number or a numeric string; ThreatConnect has
// served ratings both ways.
type number float64

func (n *number) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("%s is not a number", b)
	}
	*n = number(v)
	return nil
}

// tqScore decodes ThreatQ's score: an integer in lists, or an object with
// manual_score and generated_score, where the manual score wins.
type tqScore struct {
	value float64
	ok    bool
}

func (s *tqScore) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		var obj struct {
			Manual    *number `json:"manual_score"`
			Generated *number `json:"generated_score"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		switch {
		case obj.Manual != nil:
			s.value, s.ok = float64(*obj.Manual), true
		case obj.Generated != nil:
			s.value, s.ok = float64(*obj.Generated), true
		}
		return nil
	}
	var n number
	if err := n.UnmarshalJSON(b); err != nil {
		return err
	}
	s.value, s.ok = float64(n), true
	return nil
}

// named decodes a string or an object with a name, as ThreatQ serves a
// status either way.
type named string

func (n *named) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*n = named(s)
		return nil
	}
	var obj struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("status must be a string or {\"name\": ...}, not %s", b)
	}
	*n = named(obj.Name)
	return nil
}

// tags decodes a list of tag names from any of the shapes the connectors
// use: ["a"], [{"name": "a"}], or ThreatConnect's {"data": [{"name": "a"}]}.
// An empty object, as an empty Lua table may encode, is no tags.
type tags []string

func (t *tags) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.HasPrefix(b, []byte("{")) {
		var obj struct {
			Data []named `json:"data"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return fmt.Errorf("tags: %w", err)
		}
		for _, n := range obj.Data {
			*t = append(*t, string(n))
		}
		return nil
	}
	var list []named
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("tags must be a list of names or {\"data\": [...]}: %w", err)
	}
	for _, n := range list {
		*t = append(*t, string(n))
	}
	return nil
}
