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
