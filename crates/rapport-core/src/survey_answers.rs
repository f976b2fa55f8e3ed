//! Whether a response fits the survey version it answers: every answer checked against its
//! question, every problem named by field (`answers.<question>`), and the answers returned typed.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::problem::FieldProblem;
use crate::survey::{MAX_ANSWER_TEXT, Problems, Question, QuestionKind, SurveyDefinition};

/// One typed answer. A CSAT dimension is its own answer with `dimension` set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub question: String,
    /// The question's type (`nps`, `csat`…), kept with the answer for reports.
    pub question_type: &'static str,
    pub dimension: Option<String>,
    pub value: AnswerValue,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AnswerValue {
    Score(i64),
    Choice(String),
    Choices(Vec<String>),
    Text(String),
}

/// Checks `answers` (question id → answer) against `definition` and returns them typed, in the
/// definition's order, or every problem (fields `answers.<id>`). `null` is a skipped answer.
/// A follow-up whose condition is not met must be left out; a required question must be answered
/// whenever it is shown.
pub fn check_answers(
    definition: &SurveyDefinition,
    answers: &Map<String, Value>,
) -> Result<Vec<Answer>, Vec<FieldProblem>> {
    let mut problems = Problems::default();
    for id in answers.keys() {
        if definition.question(id).is_none() {
            problems.add(&format!("answers.{id}"), "no such question in this survey version");
        }
    }
    let mut typed: Vec<Answer> = Vec::new();
    for question in &definition.questions {
        let field = format!("answers.{}", question.id);
        let given = answers.get(&question.id).filter(|value| !value.is_null());
        let shown = match &question.show_if {
            None => true,
            Some(condition) => typed.iter().any(|answer| {
                answer.question == condition.question
                    && answer.dimension.is_none()
                    && matches!(answer.value, AnswerValue::Score(score) if (condition.min..=condition.max).contains(&score))
            }),
        };
        match (given, shown) {
            (None, true) if question.required => problems.add(&field, "required"),
            (None, _) => {}
            (Some(_), false) => {
                problems.add(&field, "not asked: its condition on the earlier answer is not met");
            }
            (Some(value), true) => typed.extend(check_answer(question, value, &field, &mut problems)),
        }
    }
    if problems.0.is_empty() { Ok(typed) } else { Err(problems.0) }
}

fn check_answer(question: &Question, value: &Value, field: &str, problems: &mut Problems) -> Vec<Answer> {
    let answer = |dimension: Option<String>, value| Answer {
        question: question.id.clone(),
        question_type: question.kind.name(),
        dimension,
        value,
    };
    let score = |value: &Value, field: &str, problems: &mut Problems| {
        let (low, high) = question.kind.score_range()?;
        match value.as_i64() {
            Some(score) if (low..=high).contains(&score) => Some(score),
            Some(score) => {
                problems.add(field, format!("{score} is outside {low}-{high}"));
                None
            }
            None => {
                problems.add(field, format!("must be a whole number from {low} to {high}"));
                None
            }
        }
    };
    match &question.kind {
        QuestionKind::Csat { dimensions } if value.is_object() => {
            let object = value.as_object().expect("checked");
            let mut answers = Vec::new();
            for key in object.keys() {
                if key != "score" && !dimensions.contains(key) {
                    problems.add(&format!("{field}.{key}"), "not a dimension this question asks about");
                }
            }
            match object.get("score").filter(|value| !value.is_null()) {
                Some(value) => answers.extend(
                    score(value, &format!("{field}.score"), problems)
                        .map(|score| answer(None, AnswerValue::Score(score))),
                ),
                None if question.required => problems.add(&format!("{field}.score"), "required"),
                None => {}
            }
            for dimension in dimensions {
                if let Some(value) = object.get(dimension).filter(|value| !value.is_null()) {
                    let dimension_score = score(value, &format!("{field}.{dimension}"), problems);
                    answers.extend(
                        dimension_score.map(|score| answer(Some(dimension.clone()), AnswerValue::Score(score))),
                    );
                }
            }
            answers
        }
        QuestionKind::Nps | QuestionKind::Csat { .. } | QuestionKind::Ces | QuestionKind::Rating { .. } => {
            score(value, field, problems).map(|score| answer(None, AnswerValue::Score(score))).into_iter().collect()
        }
        QuestionKind::SingleChoice { options } => match value.as_str() {
            Some(choice) if options.iter().any(|option| option == choice) => {
                vec![answer(None, AnswerValue::Choice(choice.to_owned()))]
            }
            _ => {
                problems.add(field, format!("must be one of: {}", options.join(", ")));
                Vec::new()
            }
        },
        QuestionKind::MultipleChoice { options } => {
            let choices: Option<Vec<String>> = value
                .as_array()
                .map(|items| items.iter().map(|item| item.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>())
                .unwrap_or(None);
            match choices {
                Some(choices) if choices.is_empty() => {
                    problems.add(field, "choose at least one option, or send null to skip");
                    Vec::new()
                }
                Some(choices) => {
                    let mut seen: Vec<&String> = Vec::new();
                    for choice in &choices {
                        if !options.contains(choice) {
                            problems.add(field, format!("`{choice}` is not one of: {}", options.join(", ")));
                        } else if seen.contains(&choice) {
                            problems.add(field, format!("`{choice}` is chosen twice"));
                        }
                        seen.push(choice);
                    }
                    vec![answer(None, AnswerValue::Choices(choices))]
                }
                None => {
                    problems.add(field, "must be a list of options");
                    Vec::new()
                }
            }
        }
        QuestionKind::Text => match value.as_str().map(str::trim) {
            Some("") => {
                problems.add(field, "empty: send null to skip");
                Vec::new()
            }
            Some(text) if text.chars().count() > MAX_ANSWER_TEXT => {
                problems.add(field, format!("longer than {MAX_ANSWER_TEXT} characters"));
                Vec::new()
            }
            Some(text) if text.contains('\0') => {
                problems.add(field, "contains a NUL character (\\u0000), which cannot be stored");
                Vec::new()
            }
            Some(text) => vec![answer(None, AnswerValue::Text(text.to_owned()))],
            None => {
                problems.add(field, "must be a string");
                Vec::new()
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::survey::test_support::{delivery_survey, fields};

    #[test]
    fn answers_are_typed_and_follow_ups_follow_their_condition() {
        let survey = delivery_survey();
        let detractor = json!({"nps": 3, "reason": "Late", "csat": {"score": 2, "timely_resolution": 1},
                               "ces": 2, "stars": 4, "channel": "app", "liked": ["price", "care"]});
        let answers = check_answers(&survey, detractor.as_object().unwrap()).expect("valid answers");
        let summary: Vec<(&str, Option<&str>, &AnswerValue)> = answers
            .iter()
            .map(|answer| (answer.question.as_str(), answer.dimension.as_deref(), &answer.value))
            .collect();
        assert_eq!(
            summary,
            [
                ("nps", None, &AnswerValue::Score(3)),
                ("reason", None, &AnswerValue::Text("Late".to_owned())),
                ("csat", None, &AnswerValue::Score(2)),
                ("csat", Some("timely_resolution"), &AnswerValue::Score(1)),
                ("ces", None, &AnswerValue::Score(2)),
                ("stars", None, &AnswerValue::Score(4)),
                ("channel", None, &AnswerValue::Choice("app".to_owned())),
                ("liked", None, &AnswerValue::Choices(vec!["price".to_owned(), "care".to_owned()])),
            ]
        );

        // A promoter is not asked for a reason; a detractor must give one; skipped answers are fine.
        assert!(check_answers(&survey, json!({"nps": 10, "csat": null}).as_object().unwrap()).is_ok());
        let problems = check_answers(&survey, json!({"nps": 10, "reason": "Great"}).as_object().unwrap()).unwrap_err();
        assert_eq!(fields(&problems), ["answers.reason"]);
        let problems = check_answers(&survey, json!({"nps": 2}).as_object().unwrap()).unwrap_err();
        assert_eq!(fields(&problems), ["answers.reason"]);
    }

    #[test]
    fn bad_answers_name_each_field() {
        let survey = delivery_survey();
        let answers = json!({"nps": 11, "csat": {"score": "good", "charm": 5}, "ces": 3.5, "stars": 0,
                             "channel": "fax", "liked": ["speed", "speed"], "color": "blue"});
        let problems = check_answers(&survey, answers.as_object().unwrap()).unwrap_err();
        assert_eq!(
            fields(&problems),
            [
                "answers.color",
                "answers.nps",
                "answers.csat.charm",
                "answers.csat.score",
                "answers.ces",
                "answers.stars",
                "answers.channel",
                "answers.liked"
            ]
        );
        let missing = check_answers(&survey, &Map::new()).unwrap_err();
        assert_eq!(fields(&missing), ["answers.nps"]);
    }
}
