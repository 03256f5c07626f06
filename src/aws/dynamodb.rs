//! DynamoDB's JSON protocol: items as typed attribute values (`{"S": "text"}`), the requests
//! this function makes, and what their answers and errors carry.
//!
//! <https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/Welcome.html>

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{call, AwsError, DYNAMODB};

/// One attribute's value, as DynamoDB's JSON writes it: its type's tag, then the value
/// (numbers are text, to keep their precision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttributeValue {
    S(String),
    N(String),
    /// Binary, base64 as it travels.
    B(String),
    #[serde(rename = "BOOL")]
    Bool(bool),
    #[serde(rename = "NULL")]
    Null(bool),
    M(HashMap<String, AttributeValue>),
    L(Vec<AttributeValue>),
    #[serde(rename = "SS")]
    Ss(Vec<String>),
    #[serde(rename = "NS")]
    Ns(Vec<String>),
    #[serde(rename = "BS")]
    Bs(Vec<String>),
}

impl AttributeValue {
    pub fn as_n(&self) -> Option<&str> {
        match self {
            AttributeValue::N(n) => Some(n),
            _ => None,
        }
    }
}

pub type Item = HashMap<String, AttributeValue>;

/// One request to a table (GetItem, UpdateItem, DeleteItem, Query, and the parts of a
/// transaction): the fields each operation takes, those left unset not sent.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    table_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    index_name: Option<&'static str>,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    key: Item,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    item: Item,
    #[serde(skip_serializing_if = "Option::is_none")]
    update_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_condition_expression: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    expression_attribute_names: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    expression_attribute_values: Item,
    #[serde(skip_serializing_if = "Option::is_none")]
    consistent_read: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    select: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    return_values: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    return_values_on_condition_check_failure: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exclusive_start_key: Option<Item>,
}

impl Request {
    pub fn table(name: &str) -> Self {
        Request {
            table_name: name.to_owned(),
            ..Request::default()
        }
    }

    pub fn key(mut self, name: &str, value: AttributeValue) -> Self {
        self.key.insert(name.to_owned(), value);
        self
    }

    pub fn item(mut self, name: &str, value: AttributeValue) -> Self {
        self.item.insert(name.to_owned(), value);
        self
    }

    pub fn index_name(mut self, index: &'static str) -> Self {
        self.index_name = Some(index);
        self
    }

    pub fn update_expression(mut self, expression: impl Into<String>) -> Self {
        self.update_expression = Some(expression.into());
        self
    }

    pub fn condition_expression(mut self, expression: impl Into<String>) -> Self {
        self.condition_expression = Some(expression.into());
        self
    }

    pub fn key_condition_expression(mut self, expression: impl Into<String>) -> Self {
        self.key_condition_expression = Some(expression.into());
        self
    }

    /// `#placeholder` stands for `attribute` in the expressions.
    pub fn name(mut self, placeholder: &str, attribute: &str) -> Self {
        self.expression_attribute_names
            .insert(placeholder.to_owned(), attribute.to_owned());
        self
    }

    /// `:placeholder` stands for `value` in the expressions.
    pub fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.expression_attribute_values
            .insert(placeholder.to_owned(), value);
        self
    }

    pub fn values(mut self, values: Item) -> Self {
        self.expression_attribute_values.extend(values);
        self
    }

    pub fn consistent_read(mut self) -> Self {
        self.consistent_read = Some(true);
        self
    }

    /// A query that counts, without the items.
    pub fn count(mut self) -> Self {
        self.select = Some("COUNT");
        self
    }

    /// The item as it was before an update, when it was updated or when its condition failed.
    pub fn return_old(mut self) -> Self {
        self.return_values = Some("ALL_OLD");
        self.return_values_on_condition_check_failure = Some("ALL_OLD");
        self
    }

    pub fn exclusive_start_key(mut self, key: Option<Item>) -> Self {
        self.exclusive_start_key = key;
        self
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetItemOutput {
    pub item: Option<Item>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateItemOutput {
    pub attributes: Option<Item>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryOutput {
    #[serde(default)]
    pub items: Vec<Item>,
    #[serde(default)]
    pub count: u64,
    pub last_evaluated_key: Option<Item>,
}

/// The keys asked of one table in a BatchGetItem, and those it left unprocessed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeysAndAttributes {
    pub keys: Vec<Item>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent_read: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projection_expression: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub expression_attribute_names: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchGetItemOutput {
    #[serde(default)]
    pub responses: HashMap<String, Vec<Item>>,
    #[serde(default)]
    pub unprocessed_keys: HashMap<String, KeysAndAttributes>,
}

/// One part of a transaction.
#[derive(Debug, Clone, Serialize)]
pub enum TransactWriteItem {
    Put(Request),
    Update(Request),
    Delete(Request),
}

#[derive(Deserialize)]
struct Nothing {}

pub async fn get_item(request: &Request) -> Result<GetItemOutput, AwsError> {
    call(&DYNAMODB, "GetItem", request).await
}

pub async fn update_item(request: &Request) -> Result<UpdateItemOutput, AwsError> {
    call(&DYNAMODB, "UpdateItem", request).await
}

pub async fn delete_item(request: &Request) -> Result<(), AwsError> {
    call::<Nothing>(&DYNAMODB, "DeleteItem", request)
        .await
        .map(|_| ())
}

pub async fn query(request: &Request) -> Result<QueryOutput, AwsError> {
    call(&DYNAMODB, "Query", request).await
}

pub async fn batch_get_item(
    table: &str,
    keys: &KeysAndAttributes,
) -> Result<BatchGetItemOutput, AwsError> {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Input<'a> {
        request_items: BTreeMap<&'a str, &'a KeysAndAttributes>,
    }
    let input = Input {
        request_items: BTreeMap::from([(table, keys)]),
    };
    call(&DYNAMODB, "BatchGetItem", &input).await
}

/// All of `items` or none. The request carries a token of its own, the same in each retry: a
/// transaction that succeeded but whose answer was lost succeeds again instead of failing its
/// conditions (DynamoDB keeps the token ten minutes), as the AWS SDKs make it.
pub async fn transact_write_items(items: &[TransactWriteItem]) -> Result<(), AwsError> {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Input<'a> {
        transact_items: &'a [TransactWriteItem],
        client_request_token: String,
    }
    let input = Input {
        transact_items: items,
        client_request_token: request_token(),
    };
    call::<Nothing>(&DYNAMODB, "TransactWriteItems", &input)
        .await
        .map(|_| ())
}

/// 32 random hex digits (DynamoDB takes 1 to 36 characters).
fn request_token() -> String {
    let bytes = super::random_bytes::<16>().unwrap_or_else(|| {
        // No randomness: the clock's nanoseconds still tell two transactions apart.
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
            .to_le_bytes()
    });
    super::sigv4::hex(&bytes)
}

/// Whether the write's condition failed: the expected answer to a lost race.
pub fn condition_failed(err: &AwsError) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

/// The item a failed condition was checked against, when the request asked for it
/// ([`Request::return_old`]) and the item exists.
pub fn condition_failed_item(err: &AwsError) -> Option<Item> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Shape {
        item: Option<Item>,
    }
    match err {
        AwsError::Service { body, .. } if condition_failed(err) => {
            serde_json::from_str::<Shape>(body).ok()?.item
        }
        _ => None,
    }
}

/// Whether a transaction was cancelled because a condition failed (not throttling or a
/// conflict with another transaction, which are errors to report).
pub fn cancelled_by_condition(err: &AwsError) -> bool {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Shape {
        #[serde(default)]
        cancellation_reasons: Vec<Reason>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Reason {
        code: Option<String>,
    }
    match err {
        AwsError::Service { code, body, .. } if code == "TransactionCanceledException" => {
            serde_json::from_str::<Shape>(body).is_ok_and(|shape| {
                shape
                    .cancellation_reasons
                    .iter()
                    .any(|r| r.code.as_deref() == Some("ConditionalCheckFailed"))
            })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_read_and_write_as_dynamodb_writes_them() {
        let text = r#"{"pk":{"S":"user#a"},"n":{"N":"12"},"on":{"BOOL":true},"gone":{"NULL":true},
            "m":{"M":{"x":{"L":[{"S":"y"},{"N":"1"}]}}},"ss":{"SS":["a","b"]},"ns":{"NS":["1"]},
            "b":{"B":"AAE="},"bs":{"BS":["AAE="]}}"#;
        let item: Item = serde_json::from_str(text).unwrap();
        assert_eq!(item["pk"], AttributeValue::S("user#a".into()));
        assert_eq!(item["n"].as_n(), Some("12"));
        assert_eq!(item["on"], AttributeValue::Bool(true));
        assert_eq!(item["ss"], AttributeValue::Ss(vec!["a".into(), "b".into()]));
        let again: Item = serde_json::from_str(&serde_json::to_string(&item).unwrap()).unwrap();
        assert_eq!(again, item);
        assert_eq!(
            serde_json::to_string(&AttributeValue::Bool(false)).unwrap(),
            r#"{"BOOL":false}"#
        );
        // A type DynamoDB does not have is refused, not read as something else.
        assert!(serde_json::from_str::<Item>(r#"{"a":{"X":"1"}}"#).is_err());
    }

    #[test]
    fn requests_carry_only_what_was_set() {
        let request = Request::table("state")
            .key("pk", AttributeValue::S("sent#r".into()))
            .update_expression("SET #p = :p")
            .name("#p", "phase")
            .value(":p", AttributeValue::S("sent".into()))
            .return_old();
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "TableName": "state",
                "Key": {"pk": {"S": "sent#r"}},
                "UpdateExpression": "SET #p = :p",
                "ExpressionAttributeNames": {"#p": "phase"},
                "ExpressionAttributeValues": {":p": {"S": "sent"}},
                "ReturnValues": "ALL_OLD",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            })
        );
        let part = TransactWriteItem::Delete(
            Request::table("state").key("pk", AttributeValue::S("area#c1#u".into())),
        );
        assert_eq!(
            serde_json::to_value(&part).unwrap(),
            serde_json::json!({"Delete": {"TableName": "state", "Key": {"pk": {"S": "area#c1#u"}}}})
        );
        let query = Request::table("state")
            .index_name("area")
            .count()
            .exclusive_start_key(None);
        assert_eq!(
            serde_json::to_value(&query).unwrap(),
            serde_json::json!({"TableName": "state", "IndexName": "area", "Select": "COUNT"})
        );
    }

    #[test]
    fn each_transaction_has_its_own_token() {
        let (a, b) = (request_token(), request_token());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    fn service(code: &str, body: &str) -> AwsError {
        AwsError::Service {
            status: 400,
            code: code.into(),
            message: "m".into(),
            body: body.into(),
        }
    }

    #[test]
    fn errors_tell_a_failed_condition_and_what_it_failed_on() {
        let failed = service(
            "ConditionalCheckFailedException",
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed","Item":{"phase":{"S":"sent"}}}"#,
        );
        assert!(condition_failed(&failed));
        assert_eq!(
            condition_failed_item(&failed).unwrap()["phase"],
            AttributeValue::S("sent".into())
        );
        let without = service("ConditionalCheckFailedException", r#"{"message":"x"}"#);
        assert!(condition_failed(&without));
        assert_eq!(condition_failed_item(&without), None);
        assert!(!condition_failed(&service("ValidationException", "{}")));

        let cancelled = service(
            "TransactionCanceledException",
            r#"{"message":"Transaction cancelled","CancellationReasons":[{"Code":"None"},{"Code":"ConditionalCheckFailed","Message":"The conditional request failed"}]}"#,
        );
        assert!(cancelled_by_condition(&cancelled));
        let conflict = service(
            "TransactionCanceledException",
            r#"{"CancellationReasons":[{"Code":"None"},{"Code":"TransactionConflict"}]}"#,
        );
        assert!(!cancelled_by_condition(&conflict));
        assert!(!cancelled_by_condition(&service(
            "ConditionalCheckFailedException",
            "{}"
        )));
    }
}
