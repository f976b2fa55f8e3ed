//! Importing survey responses kept elsewhere (an export from another tool): one row per answer,
//! grouped into responses by their `response` id and checked against the survey as the API checks
//! a response, every problem named with its rows. The rows come from a file (`rapport import`).

use std::collections::HashMap;

use rapport_core::survey::QuestionKind;
use rapport_store::records::{NewResponse, SurveyRecord};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::services::surveys::check_response;

/// The columns of an import file, in CSV or JSONL.
pub const COLUMNS: [&str; 10] = [
    "response",
    "customer",
    "submitted_at",
    "channel",
    "touchpoint",
    "agent",
    "question",
    "dimension",
    "value",
    "survey",
];

/// One answer as a file gives it. `line` is where it is in the file (1 is the first data row of a
/// CSV, the first line of JSONL).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AnswerRow {
    #[serde(skip)]
    pub line: usize,
    pub response: Option<String>,
    pub customer: Option<String>,
    pub submitted_at: Option<String>,
    pub channel: Option<String>,
    pub touchpoint: Option<String>,
    pub agent: Option<String>,
    pub question: Option<String>,
    pub dimension: Option<String>,
    /// A number for scored questions, an option for choices, text for open questions.
    pub value: Option<String>,
    /// Optional; when given, the survey being imported.
    pub survey: Option<String>,
}

/// One problem, with the file lines it concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct RowProblem {
    pub lines: Vec<usize>,
    pub field: String,
    pub problem: String,
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines: Vec<String> = self.lines.iter().map(usize::to_string).collect();
        let label = if self.lines.len() == 1 { "line" } else { "lines" };
        write!(formatter, "{label} {}: {}: {}", lines.join(", "), self.field, self.problem)
    }
}

/// A CSV reader over `text` and its header, refused when the header names a column outside
/// `columns` (a misspelt column would otherwise be silently ignored).
pub fn csv_with_columns<'a>(
    text: &'a str,
    columns: &[&str],
) -> Result<(csv::Reader<&'a [u8]>, csv::StringRecord), String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let unknown: Vec<&str> = headers.iter().filter(|c| !columns.contains(c)).collect();
    if !unknown.is_empty() {
        return Err(format!("unknown columns in the header: {}; expected {}", unknown.join(", "), columns.join(", ")));
    }
    Ok((reader, headers))
}

/// The answer rows of a CSV file, and the rows that could not be read, each with its line; or
/// why the file cannot be read at all (an unknown column stops it: it would lose its data row by
/// row).
pub fn answer_rows_from_csv(text: &str) -> Result<(Vec<AnswerRow>, Vec<RowProblem>), String> {
    let (mut reader, headers) = csv_with_columns(text, &COLUMNS)?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for record in reader.records() {
        // The file's line, as an editor numbers it (the header is line 1).
        let parsed = record.and_then(|record| {
            let line = record.position().map_or(0, |p| p.line() as usize);
            record.deserialize::<AnswerRow>(Some(&headers)).map(|row| AnswerRow { line, ..row })
        });
        match parsed {
            Ok(row) => rows.push(row),
            Err(error) => problems.push(RowProblem {
                lines: vec![error.position().map_or(0, |p| p.line() as usize)],
                field: "row".into(),
                problem: error.to_string(),
            }),
        }
    }
    Ok((rows, problems))
}

/// The answer rows of a JSON-lines file (numbers as good as strings: `"value": 9`), and the lines
/// that could not be read.
pub fn answer_rows_from_jsonl(text: &str) -> (Vec<AnswerRow>, Vec<RowProblem>) {
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        let parsed =
            serde_json::from_str::<Map<String, Value>>(line).map_err(|error| error.to_string()).and_then(|object| {
                if let Some(column) = object.keys().find(|key| !COLUMNS.contains(&key.as_str())) {
                    return Err(format!("unknown field `{column}`: expected {}", COLUMNS.join(", ")));
                }
                let strings: Map<String, Value> = object
                    .into_iter()
                    .map(|(key, value)| match value {
                        Value::Number(number) => (key, Value::from(number.to_string())),
                        other => (key, other),
                    })
                    .collect();
                serde_json::from_value::<AnswerRow>(Value::Object(strings)).map_err(|error| error.to_string())
            });
        match parsed {
            Ok(row) => rows.push(AnswerRow { line: index + 1, ..row }),
            Err(problem) => problems.push(RowProblem { lines: vec![index + 1], field: "row".into(), problem }),
        }
    }
    (rows, problems)
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|value| !value.is_empty())
}

/// The responses in `rows` for `survey`, each with the idempotency key `import:<response>` so a
/// second run adds nothing, and every problem found. A response with any problem is left out.
pub fn responses_from_rows(
    survey: &SurveyRecord,
    rows: &[AnswerRow],
    received_at: OffsetDateTime,
) -> (Vec<NewResponse>, Vec<RowProblem>) {
    let mut problems = Vec::new();
    let mut order: Vec<&str> = Vec::new();
    let mut groups: HashMap<&str, Vec<&AnswerRow>> = HashMap::new();
    for row in rows {
        let mut missing = Vec::new();
        for (field, value) in [
            ("response", &row.response),
            ("customer", &row.customer),
            ("submitted_at", &row.submitted_at),
            ("question", &row.question),
            ("value", &row.value),
        ] {
            if present(value).is_none() {
                missing.push(field);
            }
        }
        if let Some(other) = present(&row.survey).filter(|id| *id != survey.id) {
            problems.push(RowProblem {
                lines: vec![row.line],
                field: "survey".into(),
                problem: format!("`{other}` is not the survey being imported ({})", survey.id),
            });
            continue;
        }
        if !missing.is_empty() {
            for field in missing {
                problems.push(RowProblem { lines: vec![row.line], field: field.into(), problem: "required".into() });
            }
            continue;
        }
        let id = present(&row.response).unwrap_or_default();
        groups.entry(id).or_insert_with(|| {
            order.push(id);
            Vec::new()
        });
        groups.entry(id).or_default().push(row);
    }

    let mut responses = Vec::with_capacity(order.len());
    for id in order {
        let group = &groups[id];
        let lines: Vec<usize> = group.iter().map(|row| row.line).collect();
        match response_of(survey, id, group, received_at) {
            Ok(response) => responses.push(response),
            Err(found) => problems.extend(found.into_iter().map(|(field, problem)| RowProblem {
                lines: lines.clone(),
                field,
                problem,
            })),
        }
    }
    (responses, problems)
}

/// How to read one column of a row.
type Field = fn(&AnswerRow) -> &Option<String>;

/// One response from its rows: the fields every row must agree on, then the answers as the API
/// takes them, checked by `check_response`.
fn response_of(
    survey: &SurveyRecord,
    id: &str,
    group: &[&AnswerRow],
    received_at: OffsetDateTime,
) -> Result<NewResponse, Vec<(String, String)>> {
    let mut problems = Vec::new();
    let first = group[0];
    let shared: [(&str, Field); 5] = [
        ("customer", |row| &row.customer),
        ("submitted_at", |row| &row.submitted_at),
        ("channel", |row| &row.channel),
        ("touchpoint", |row| &row.touchpoint),
        ("agent", |row| &row.agent),
    ];
    for (field, get) in shared {
        if let Some(row) = group.iter().find(|row| present(get(row)) != present(get(first))) {
            problems.push((
                field.to_owned(),
                format!("differs between rows {} and {} of response `{id}`", first.line, row.line),
            ));
        }
    }
    let mut answers = Map::new();
    for row in group {
        let question_id = present(&row.question).unwrap_or_default();
        let value = present(&row.value).unwrap_or_default();
        let scored = || value.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(value));
        let kind = survey.definition.question(question_id).map(|question| &question.kind);
        let duplicate = || (format!("answers.{question_id}"), format!("answered twice in response `{id}`"));
        match (kind, present(&row.dimension)) {
            (Some(QuestionKind::MultipleChoice { .. }), _) => {
                let chosen = answers.entry(question_id).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = chosen {
                    items.push(Value::from(value));
                }
            }
            (Some(QuestionKind::Csat { dimensions }), dimension) if !dimensions.is_empty() || dimension.is_some() => {
                let object = answers.entry(question_id).or_insert_with(|| json!({}));
                let slot = dimension.unwrap_or("score");
                match object.as_object_mut() {
                    Some(object) if !object.contains_key(slot) => {
                        object.insert(slot.to_owned(), scored());
                    }
                    _ => problems.push(duplicate()),
                }
            }
            (kind, _) => {
                let answer = match kind {
                    Some(QuestionKind::Text | QuestionKind::SingleChoice { .. }) => Value::from(value),
                    _ => scored(),
                };
                if answers.insert(question_id.to_owned(), answer).is_some() {
                    problems.push(duplicate());
                }
            }
        }
    }
    let mut body = json!({"customer": present(&first.customer), "answers": answers});
    for (field, key) in [("channel", &first.channel), ("touchpoint", &first.touchpoint), ("agent", &first.agent)] {
        if let Some(value) = present(key) {
            body[field] = Value::from(value);
        }
    }
    if let Some(at) = present(&first.submitted_at) {
        body["submittedAt"] = Value::from(at);
    }
    match check_response(survey, &body, Some(format!("import:{id}")), received_at) {
        Ok(checked) if problems.is_empty() => Ok(checked.response),
        Ok(_) => Err(problems),
        Err(error) => {
            // The API's field names, as the file's columns are named.
            let column = |field: String| if field == "submittedAt" { "submitted_at".to_owned() } else { field };
            problems.extend(error.details.into_iter().map(|detail| (column(detail.field), detail.problem)));
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_rows_are_read_with_their_lines_and_bad_ones_named() {
        let csv = "response,customer,submitted_at,question,value\nr1,userId:u1,2025-03-01T10:00:00Z,nps,9\n\
                   r1,userId:u1,2025-03-01T10:00:00Z,why,\"Fast, friendly\"\nr2,userId:u2\n";
        let (rows, problems) = answer_rows_from_csv(csv).unwrap();
        assert_eq!(rows.iter().map(|row| row.line).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(rows[1].value.as_deref(), Some("Fast, friendly"));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].lines, vec![4]);
        let error = answer_rows_from_csv("respons,value\nr1,9\n").unwrap_err();
        assert!(error.contains("unknown columns in the header: respons"), "{error}");

        let jsonl = "{\"response\": \"r1\", \"question\": \"nps\", \"value\": 9}\n\n{\"reponse\": \"r2\"}\nnot json\n";
        let (rows, problems) = answer_rows_from_jsonl(jsonl);
        assert_eq!((rows.len(), rows[0].value.as_deref(), rows[0].line), (1, Some("9"), 1));
        assert_eq!(problems.iter().map(|p| p.lines[0]).collect::<Vec<_>>(), vec![3, 4]);
        assert!(problems[0].problem.contains("unknown field `reponse`"), "{}", problems[0].problem);
    }
}
