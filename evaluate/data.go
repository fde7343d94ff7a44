package evaluate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Record is one line of a JSONL evaluation file. A record is either a
// prompt/answer pair — text ("prompt", "answer") or token ids
// ("prompt_ids", "answer_ids"; used in preference to the text when present)
// — or a plain token sequence ("ids") scored as language-model loss.
type Record struct {
	Prompt    *string `json:"prompt"`
	Answer    *string `json:"answer"`
	PromptIDs []int   `json:"prompt_ids"`
	AnswerIDs []int   `json:"answer_ids"`
	IDs       []int   `json:"ids"`
	// Line is the 1-based line number in the file.
	Line int `json:"-"`
}

func (r *Record) hasAnswer() bool { return r.Answer != nil || r.AnswerIDs != nil }

// ReadJSONL reads evaluation records, one JSON object per non-empty line.
// name is used in error messages.
func ReadJSONL(r io.Reader, name string) ([]Record, error) {
	var recs []Record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<30)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		rec.Line = line
		switch {
		case rec.IDs != nil:
			if rec.hasAnswer() || rec.Prompt != nil || rec.PromptIDs != nil {
				return nil, fmt.Errorf("%s:%d: a record has either \"ids\" or a prompt and an answer, not both", name, line)
			}
			if len(rec.IDs) < 2 {
				return nil, fmt.Errorf("%s:%d: \"ids\" needs at least 2 tokens to score one", name, line)
			}
		case rec.hasAnswer():
			if rec.Prompt == nil && rec.PromptIDs == nil {
				return nil, fmt.Errorf("%s:%d: record has an answer but no prompt", name, line)
			}
		default:
			return nil, fmt.Errorf("%s:%d: record has neither \"ids\" nor \"answer\"/\"answer_ids\"", name, line)
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: no records", name)
	}
	return recs, nil
}
