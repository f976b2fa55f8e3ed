//! Surveys: what a survey asks (a definition, checked whole before it is stored) and whether a
//! response fits the version it answers (every problem named by field). Pure: storage keeps the
//! definition as JSON and the answers typed, one row each.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::problem::FieldProblem;
use crate::survey_delivery::{Delivery, parse_delivery};

/// Longest survey name, question text, option or thank-you message, in characters.
const MAX_TEXT: usize = 1_000;
/// Longest open-text answer, in characters.
pub const MAX_ANSWER_TEXT: usize = 5_000;
const MAX_QUESTIONS: usize = 100;
const MAX_OPTIONS: usize = 50;

/// Transactional surveys follow a touchpoint; relational ones ask about the whole relationship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyKind {
    Transactional,
    Relational,
}

/// The service dimensions a CSAT question may ask about, each as its own 1-5 sub-question.
pub const CSAT_DIMENSIONS: [&str; 7] = [
    "knowledge",
    "communication",
    "professionalism",
    "responsiveness",
    "understanding",
    "timely_resolution",
    "effectiveness",
];

/// What a question asks and the answers it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QuestionKind {
    /// 0-10: how likely to recommend.
    Nps,
    /// 1-5 satisfaction, optionally with one 1-5 sub-question per service dimension.
    Csat {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        dimensions: Vec<String>,
    },
    /// 1-7 agreement that the company made it easy to handle the issue.
    Ces,
    /// 1-`scale`.
    Rating {
        scale: i64,
    },
    SingleChoice {
        options: Vec<String>,
    },
    MultipleChoice {
        options: Vec<String>,
    },
    Text,
}

impl QuestionKind {
    /// The range of a scored question's answers.
    pub fn score_range(&self) -> Option<(i64, i64)> {
        match self {
            QuestionKind::Nps => Some((0, 10)),
            QuestionKind::Csat { .. } => Some((1, 5)),
            QuestionKind::Ces => Some((1, 7)),
            QuestionKind::Rating { scale } => Some((1, *scale)),
            QuestionKind::SingleChoice { .. } | QuestionKind::MultipleChoice { .. } | QuestionKind::Text => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            QuestionKind::Nps => "nps",
            QuestionKind::Csat { .. } => "csat",
            QuestionKind::Ces => "ces",
            QuestionKind::Rating { .. } => "rating",
            QuestionKind::SingleChoice { .. } => "single_choice",
            QuestionKind::MultipleChoice { .. } => "multiple_choice",
            QuestionKind::Text => "text",
        }
    }

    fn default_text(&self, language: Language) -> Option<&'static str> {
        Some(match (self, language) {
            (QuestionKind::Nps, Language::En) => "How likely are you to recommend us to a friend or colleague?",
            (QuestionKind::Nps, Language::De) => {
                "Wie wahrscheinlich ist es, dass Sie uns einem Freund oder Kollegen empfehlen?"
            }
            (QuestionKind::Csat { .. }, Language::En) => "How satisfied were you with your experience?",
            (QuestionKind::Csat { .. }, Language::De) => "Wie zufrieden waren Sie insgesamt?",
            (QuestionKind::Ces, Language::En) => "The company made it easy for me to handle my issue.",
            (QuestionKind::Ces, Language::De) => {
                "Das Unternehmen hat es mir leicht gemacht, mein Anliegen zu erledigen."
            }
            _ => return None,
        })
    }
}

/// The language a survey speaks to respondents in: its standard question texts and the hosted
/// page's own words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    De,
}

/// Who a survey asks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    #[default]
    Customers,
    Employees,
}

impl Audience {
    fn is_customers(&self) -> bool {
        *self == Audience::Customers
    }
}

/// A follow-up: the question is shown only when an earlier scored question's answer is in
/// `min..=max` ("What is the main reason for your score?" for detractors: `nps`, 0, 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShowIf {
    pub question: String,
    pub min: i64,
    pub max: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    pub id: String,
    #[serde(flatten)]
    pub kind: QuestionKind,
    pub text: String,
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_if: Option<ShowIf>,
    /// The page of the hosted survey it is on (1 for all unless the survey is split; pages
    /// follow each other in question order). Each page's answers are kept as they are sent.
    #[serde(default = "first_page", skip_serializing_if = "is_first_page")]
    pub page: u32,
}

fn first_page() -> u32 {
    1
}

fn is_first_page(page: &u32) -> bool {
    *page == 1
}

/// The most pages a survey may have.
pub const MAX_PAGES: u32 = 20;

/// One version of a survey, as checked by [`parse_definition`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SurveyDefinition {
    pub name: String,
    pub kind: SurveyKind,
    /// Who answers: customers (NPS) or employees (eNPS); metrics never mix the two.
    #[serde(default, skip_serializing_if = "Audience::is_customers")]
    pub audience: Audience,
    /// The touchpoint a transactional survey follows (`delivery`, `support`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub touchpoint: Option<String>,
    pub questions: Vec<Question>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thank_you: Option<String>,
    /// `en` (default) or `de`.
    #[serde(default)]
    pub language: Language,
    /// When and how invitations go out; without it, responses come only through the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
}

impl SurveyDefinition {
    /// How many pages the hosted survey has.
    pub fn pages(&self) -> u32 {
        self.questions.last().map_or(1, |question| question.page)
    }

    /// The survey as far as `page`: its questions on that page and before (what a page's answers
    /// are checked against before the survey is complete).
    pub fn through_page(&self, page: u32) -> SurveyDefinition {
        SurveyDefinition {
            questions: self.questions.iter().filter(|question| question.page <= page).cloned().collect(),
            ..self.clone()
        }
    }

    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|question| question.id == id)
    }
}

/// Collects problems with field paths such as `questions[2].options`.
#[derive(Default)]
pub(crate) struct Problems(pub(crate) Vec<FieldProblem>);

impl Problems {
    pub(crate) fn add(&mut self, field: &str, problem: impl Into<String>) {
        self.0.push(FieldProblem::envelope(field, &problem.into()));
    }
}

fn text_field(object: &Map<String, Value>, field: &str, path: &str, problems: &mut Problems) -> Option<String> {
    match object.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.trim().is_empty() => {
            problems.add(path, "must not be empty");
            None
        }
        Some(Value::String(text)) if text.chars().count() > MAX_TEXT => {
            problems.add(path, format!("longer than {MAX_TEXT} characters"));
            None
        }
        Some(Value::String(text)) => Some(text.trim().to_owned()),
        Some(_) => {
            problems.add(path, "must be a string");
            None
        }
    }
}

fn is_question_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-')
}

/// Checks a survey definition as sent to the API and returns it, or every problem found.
pub fn parse_definition(value: &Value) -> Result<SurveyDefinition, Vec<FieldProblem>> {
    let mut problems = Problems::default();
    let Some(object) = value.as_object() else {
        return Err(vec![FieldProblem::envelope("", "a survey definition must be a JSON object")]);
    };
    for key in object.keys() {
        if !["name", "kind", "audience", "language", "touchpoint", "questions", "thankYou", "delivery"]
            .contains(&key.as_str())
        {
            problems.add(
                key,
                "unknown field: expected name, kind, audience, language, touchpoint, questions, thankYou, delivery",
            );
        }
    }
    let name = text_field(object, "name", "name", &mut problems);
    if name.is_none() && !matches!(object.get("name"), Some(Value::String(_))) {
        problems.add("name", "required: the survey's name");
    }
    let kind = match object.get("kind") {
        Some(Value::String(kind)) if kind == "transactional" => Some(SurveyKind::Transactional),
        Some(Value::String(kind)) if kind == "relational" => Some(SurveyKind::Relational),
        None => {
            problems.add("kind", "required: transactional or relational");
            None
        }
        Some(_) => {
            problems.add("kind", "must be transactional or relational");
            None
        }
    };
    let language = match object.get("language") {
        None | Some(Value::Null) => Language::En,
        Some(Value::String(code)) if code == "en" => Language::En,
        Some(Value::String(code)) if code == "de" => Language::De,
        Some(_) => {
            problems.add("language", "must be en or de");
            Language::En
        }
    };
    let audience = match object.get("audience") {
        None | Some(Value::Null) => Audience::Customers,
        Some(Value::String(audience)) if audience == "customers" => Audience::Customers,
        Some(Value::String(audience)) if audience == "employees" => Audience::Employees,
        Some(_) => {
            problems.add("audience", "must be customers or employees");
            Audience::Customers
        }
    };
    let touchpoint = text_field(object, "touchpoint", "touchpoint", &mut problems);
    let thank_you = text_field(object, "thankYou", "thankYou", &mut problems);
    let questions = match object.get("questions") {
        Some(Value::Array(items)) if items.is_empty() => {
            problems.add("questions", "a survey needs at least one question");
            Vec::new()
        }
        Some(Value::Array(items)) if items.len() > MAX_QUESTIONS => {
            problems.add("questions", format!("at most {MAX_QUESTIONS} questions"));
            Vec::new()
        }
        Some(Value::Array(items)) => {
            let mut questions: Vec<Question> = Vec::new();
            for (position, item) in items.iter().enumerate() {
                if let Some(question) =
                    parse_question(item, &format!("questions[{position}]"), &questions, language, &mut problems)
                {
                    questions.push(question);
                }
            }
            questions
        }
        None => {
            problems.add("questions", "required: a list of questions");
            Vec::new()
        }
        Some(_) => {
            problems.add("questions", "must be a list of questions");
            Vec::new()
        }
    };
    let delivery = match object.get("delivery") {
        None | Some(Value::Null) => None,
        Some(delivery) => parse_delivery(delivery, &mut problems.0),
    };
    if kind == Some(SurveyKind::Transactional)
        && delivery.as_ref().is_some_and(|delivery| delivery.cadence_days.is_some())
    {
        problems.add(
            "delivery.cadenceDays",
            "only relational surveys go out on a cadence; transactional ones on a trigger",
        );
    }
    match (name, kind, problems.0.is_empty()) {
        (Some(name), Some(kind), true) => {
            Ok(SurveyDefinition { name, kind, audience, language, touchpoint, questions, thank_you, delivery })
        }
        _ => Err(problems.0),
    }
}

/// One question; `earlier` are the questions before it (a follow-up may only look back).
fn parse_question(
    value: &Value,
    path: &str,
    earlier: &[Question],
    language: Language,
    problems: &mut Problems,
) -> Option<Question> {
    let Some(object) = value.as_object() else {
        problems.add(path, "a question must be a JSON object");
        return None;
    };
    let before = problems.0.len();
    for key in object.keys() {
        if !["id", "type", "text", "required", "showIf", "options", "scale", "dimensions", "page"]
            .contains(&key.as_str())
        {
            problems.add(&format!("{path}.{key}"), "unknown field");
        }
    }
    let id = match object.get("id") {
        Some(Value::String(id)) if is_question_id(id) => {
            if earlier.iter().any(|question| &question.id == id) {
                problems.add(&format!("{path}.id"), format!("`{id}` is used by an earlier question"));
            }
            Some(id.clone())
        }
        Some(_) => {
            problems.add(&format!("{path}.id"), "must be 1-64 characters of a-z, 0-9, _ and -");
            None
        }
        None => {
            problems.add(&format!("{path}.id"), "required: an id such as `nps` or `reason`");
            None
        }
    };
    let kind = parse_kind(object, path, problems);
    let text = text_field(object, "text", &format!("{path}.text"), problems)
        .or_else(|| kind.as_ref().and_then(|kind| kind.default_text(language)).map(str::to_owned));
    if text.is_none() && kind.is_some() && !object.contains_key("text") {
        problems.add(&format!("{path}.text"), "required for this question type");
    }
    let required = match object.get("required") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(required)) => *required,
        Some(_) => {
            problems.add(&format!("{path}.required"), "must be true or false");
            false
        }
    };
    let show_if = match object.get("showIf") {
        None | Some(Value::Null) => None,
        Some(condition) => parse_show_if(condition, &format!("{path}.showIf"), earlier, problems),
    };
    let previous_page = earlier.last().map_or(1, |question| question.page);
    let page = match object.get("page") {
        None | Some(Value::Null) => previous_page,
        Some(value) => match value.as_u64().and_then(|page| u32::try_from(page).ok()) {
            Some(page) if (previous_page..=MAX_PAGES).contains(&page) => page,
            _ => {
                problems.add(
                    &format!("{path}.page"),
                    format!("must be a page from {previous_page} (the question before's) to {MAX_PAGES}"),
                );
                previous_page
            }
        },
    };
    if problems.0.len() > before {
        return None;
    }
    Some(Question { id: id?, kind: kind?, text: text?, required, show_if, page })
}

fn parse_kind(object: &Map<String, Value>, path: &str, problems: &mut Problems) -> Option<QuestionKind> {
    let expected = "one of nps, csat, ces, rating, single_choice, multiple_choice, text";
    let name = match object.get("type") {
        Some(Value::String(name)) => name.as_str(),
        None => {
            problems.add(&format!("{path}.type"), format!("required: {expected}"));
            return None;
        }
        Some(_) => {
            problems.add(&format!("{path}.type"), format!("must be {expected}"));
            return None;
        }
    };
    let kind = match name {
        "nps" => QuestionKind::Nps,
        "ces" => QuestionKind::Ces,
        "text" => QuestionKind::Text,
        "csat" => QuestionKind::Csat { dimensions: parse_dimensions(object.get("dimensions"), path, problems)? },
        "rating" => match object.get("scale") {
            Some(Value::Number(scale)) if scale.as_i64().is_some_and(|scale| (2..=10).contains(&scale)) => {
                QuestionKind::Rating { scale: scale.as_i64()? }
            }
            _ => {
                problems.add(&format!("{path}.scale"), "required for a rating: a whole number from 2 to 10");
                return None;
            }
        },
        "single_choice" => {
            QuestionKind::SingleChoice { options: parse_options(object.get("options"), path, problems)? }
        }
        "multiple_choice" => {
            QuestionKind::MultipleChoice { options: parse_options(object.get("options"), path, problems)? }
        }
        other => {
            problems.add(&format!("{path}.type"), format!("`{other}` is not {expected}"));
            return None;
        }
    };
    for (field, allowed) in
        [("options", kind_has_options(&kind)), ("scale", name == "rating"), ("dimensions", name == "csat")]
    {
        if object.contains_key(field) && !allowed {
            problems.add(&format!("{path}.{field}"), format!("does not apply to a `{name}` question"));
        }
    }
    Some(kind)
}

fn kind_has_options(kind: &QuestionKind) -> bool {
    matches!(kind, QuestionKind::SingleChoice { .. } | QuestionKind::MultipleChoice { .. })
}

fn parse_options(value: Option<&Value>, path: &str, problems: &mut Problems) -> Option<Vec<String>> {
    let field = format!("{path}.options");
    let Some(Value::Array(items)) = value else {
        problems.add(&field, "required for a choice question: a list of 2 or more options");
        return None;
    };
    if items.len() < 2 || items.len() > MAX_OPTIONS {
        problems.add(&field, format!("must hold 2 to {MAX_OPTIONS} options"));
        return None;
    }
    let mut options: Vec<String> = Vec::new();
    for (position, item) in items.iter().enumerate() {
        match item.as_str().map(str::trim) {
            Some(option) if !option.is_empty() && option.chars().count() <= MAX_TEXT => {
                if options.iter().any(|earlier| earlier == option) {
                    problems.add(&format!("{field}[{position}]"), format!("`{option}` is listed twice"));
                }
                options.push(option.to_owned());
            }
            _ => problems.add(&format!("{field}[{position}]"), "must be a non-empty string"),
        }
    }
    Some(options)
}

fn parse_dimensions(value: Option<&Value>, path: &str, problems: &mut Problems) -> Option<Vec<String>> {
    let field = format!("{path}.dimensions");
    let items = match value {
        None | Some(Value::Null) => return Some(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            problems.add(&field, "must be a list of service dimensions");
            return None;
        }
    };
    let mut dimensions: Vec<String> = Vec::new();
    for (position, item) in items.iter().enumerate() {
        match item.as_str() {
            Some(dimension) if CSAT_DIMENSIONS.contains(&dimension) => {
                if dimensions.iter().any(|earlier| earlier == dimension) {
                    problems.add(&format!("{field}[{position}]"), format!("`{dimension}` is listed twice"));
                }
                dimensions.push(dimension.to_owned());
            }
            _ => {
                problems.add(&format!("{field}[{position}]"), format!("must be one of {}", CSAT_DIMENSIONS.join(", ")))
            }
        }
    }
    Some(dimensions)
}

fn parse_show_if(value: &Value, path: &str, earlier: &[Question], problems: &mut Problems) -> Option<ShowIf> {
    let Some(object) = value.as_object() else {
        problems.add(path, "must be an object: {\"question\": …, \"min\": …, \"max\": …}");
        return None;
    };
    let bound = |field: &str, problems: &mut Problems| match object.get(field) {
        Some(Value::Number(number)) if number.as_i64().is_some() => number.as_i64(),
        _ => {
            problems.add(&format!("{path}.{field}"), "required: a whole number");
            None
        }
    };
    let (min, max) = (bound("min", problems), bound("max", problems));
    let Some(Value::String(question)) = object.get("question") else {
        problems.add(&format!("{path}.question"), "required: the id of an earlier scored question");
        return None;
    };
    let Some(target) = earlier.iter().find(|candidate| &candidate.id == question) else {
        problems.add(&format!("{path}.question"), format!("`{question}` is not an earlier question"));
        return None;
    };
    let Some((low, high)) = target.kind.score_range() else {
        problems.add(&format!("{path}.question"), format!("`{question}` has no score to compare"));
        return None;
    };
    let (min, max) = (min?, max?);
    if min > max {
        problems.add(path, format!("min ({min}) is above max ({max})"));
        return None;
    }
    if max < low || min > high {
        problems.add(path, format!("{min}-{max} can never occur: `{question}` is scored {low}-{high}"));
        return None;
    }
    Some(ShowIf { question: question.clone(), min, max })
}

/// Shared by the tests of `survey` and `survey_answers`.
#[cfg(test)]
pub(crate) mod test_support {
    use serde_json::json;

    use super::{SurveyDefinition, parse_definition};
    use crate::problem::FieldProblem;

    pub fn fields(problems: &[FieldProblem]) -> Vec<&str> {
        problems.iter().map(|problem| problem.field.as_str()).collect()
    }

    pub fn delivery_survey() -> SurveyDefinition {
        parse_definition(&json!({
            "name": "After delivery",
            "kind": "transactional",
            "touchpoint": "delivery",
            "questions": [
                {"id": "nps", "type": "nps", "required": true},
                {"id": "reason", "type": "text", "text": "What is the main reason for your score?",
                 "showIf": {"question": "nps", "min": 0, "max": 6}, "required": true},
                {"id": "csat", "type": "csat", "dimensions": ["knowledge", "timely_resolution"]},
                {"id": "ces", "type": "ces"},
                {"id": "stars", "type": "rating", "scale": 5, "text": "Rate the courier"},
                {"id": "channel", "type": "single_choice", "text": "How did you order?", "options": ["web", "app"]},
                {"id": "liked", "type": "multiple_choice", "text": "What did you like?", "options": ["speed", "price", "care"]}
            ],
            "thankYou": "Thank you!"
        }))
        .expect("a valid survey")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::test_support::{delivery_survey, fields};
    use super::*;

    #[test]
    fn a_definition_gets_default_texts_and_keeps_its_questions_in_order() {
        let survey = delivery_survey();
        assert_eq!(survey.kind, SurveyKind::Transactional);
        let ids: Vec<&str> = survey.questions.iter().map(|question| question.id.as_str()).collect();
        assert_eq!(ids, ["nps", "reason", "csat", "ces", "stars", "channel", "liked"]);
        assert!(survey.questions[0].text.contains("recommend"));
        assert!(survey.questions[3].text.contains("easy"));
        assert_eq!(survey.audience, Audience::Customers);
        // The stored JSON reads back as the same definition.
        let stored = serde_json::to_value(&survey).unwrap();
        assert_eq!(serde_json::from_value::<SurveyDefinition>(stored).unwrap(), survey);
    }

    #[test]
    fn pages_follow_the_question_order() {
        let survey = parse_definition(&json!({"name": "Long", "kind": "relational", "questions": [
            {"id": "nps", "type": "nps"}, {"id": "ces", "type": "ces", "page": 2}, {"id": "why", "type": "text", "text": "Why?"},
            {"id": "more", "type": "text", "text": "More?", "page": 3}]}))
        .unwrap();
        let pages: Vec<u32> = survey.questions.iter().map(|question| question.page).collect();
        assert_eq!(pages, [1, 2, 2, 3], "a question without a page stays on the one before's");
        assert_eq!(survey.pages(), 3);
        assert_eq!(survey.through_page(2).questions.len(), 3);
        let stored = serde_json::to_value(&survey).unwrap();
        assert!(stored["questions"][0].get("page").is_none());
        assert_eq!(serde_json::from_value::<SurveyDefinition>(stored).unwrap(), survey);
        let backwards = json!({"name": "Bad", "kind": "relational", "questions": [
            {"id": "nps", "type": "nps", "page": 2}, {"id": "ces", "type": "ces", "page": 1}, {"id": "x", "type": "ces", "page": 99}]});
        assert_eq!(fields(&parse_definition(&backwards).unwrap_err()), ["questions[1].page", "questions[2].page"]);
    }

    #[test]
    fn a_definition_that_makes_no_sense_names_every_problem() {
        let problems = parse_definition(&json!({"name": " ", "kind": "weekly", "audience": "staff", "questions": []}))
            .unwrap_err();
        assert_eq!(fields(&problems), ["name", "kind", "audience", "questions"]);

        let problems = parse_definition(&json!({
            "name": "Broken", "kind": "relational",
            "questions": [
                {"id": "nps", "type": "nps"},
                {"id": "nps", "type": "ces"},
                {"id": "why", "type": "text", "text": "Why?", "showIf": {"question": "nps", "min": 11, "max": 20}},
                {"id": "how", "type": "text", "text": "How?", "showIf": {"question": "later", "min": 0, "max": 6}},
                {"id": "pick", "type": "single_choice", "text": "Pick", "options": ["a"]},
                {"id": "Bad Id", "type": "stars"},
                {"id": "stars", "type": "rating", "text": "Stars", "scale": 11},
                {"id": "csat", "type": "csat", "dimensions": ["charm"]},
                {"id": "open", "type": "text"}
            ]
        }))
        .unwrap_err();
        assert_eq!(
            fields(&problems),
            [
                "questions[1].id",
                "questions[2].showIf",
                "questions[3].showIf.question",
                "questions[4].options",
                "questions[5].id",
                "questions[5].type",
                "questions[6].scale",
                "questions[7].dimensions[0]",
                "questions[8].text"
            ]
        );
        assert!(problems[1].problem.contains("can never occur"), "{problems:?}");
    }
}
