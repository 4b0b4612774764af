//! AWS's documented mapping templates, rendered to AWS's documented outputs.

use serde_json::json;

use super::{json_of, pairs, render, render_with};
use crate::velocity::RenderInput;

const PETS: &str = r#"[{"id": 1, "type": "dog", "price": 249.99},
        {"id": 2, "type": "cat", "price": 124.99}, {"id": 3, "type": "fish", "price": 0.99}]"#;

// AWS's documented examples. The blank line before each `#end` is what gives every item its newline:
// Velocity 1.7 takes the newline after a directive.

#[test]
fn petstore_flatten_some_as_documented() {
    // "Mapping template transformations for REST APIs" and the PetStore walkthrough (PetsModelFlattenSome).
    let text = "#set($inputRoot = $input.path('$'))\n[\n#foreach($elem in $inputRoot)\n  {\n    \
                \"description\" : \"Item $elem.id is a $elem.type.\",\n    \"askingPrice\" : $elem.price\n  \
                }#if($foreach.hasNext),#end\n\n#end\n]";
    let documented = "[\n  {\n    \"description\" : \"Item 1 is a dog.\",\n    \"askingPrice\" : 249.99\n  },\n  \
                      {\n    \"description\" : \"Item 2 is a cat.\",\n    \"askingPrice\" : 124.99\n  },\n  \
                      {\n    \"description\" : \"Item 3 is a fish.\",\n    \"askingPrice\" : 0.99\n  }\n]";
    assert_eq!(render(text, PETS), documented);
}

#[test]
fn petstore_flatten_all_as_documented() {
    // The walkthrough's PetsModelFlattenAll: its blank line holds 8 spaces, and so does the documented
    // output after every item.
    let text = "#set($inputRoot = $input.path('$'))\n{\n  \"listings\" : [\n#foreach($elem in $inputRoot)\n    \
                \"Item number $elem.id is a $elem.type. The asking price is $elem.price.\"\
                #if($foreach.hasNext),#end\n        \n#end\n  ]\n}";
    let documented = "{\n  \"listings\" : [\n    \
                      \"Item number 1 is a dog. The asking price is 249.99.\",        \n    \
                      \"Item number 2 is a cat. The asking price is 124.99.\",        \n    \
                      \"Item number 3 is a fish. The asking price is 0.99.\"        \n  ]\n}";
    assert_eq!(render(text, PETS), documented);
}

#[test]
fn photo_album_as_documented() {
    // "Example data models and mapping templates": the photo album's request transformation.
    let body = r#"{"photos": {"page": 1, "pages": "1234", "perpage": 100, "total": "123398", "photo": [
            {"id": "12345678901", "owner": "23456789@A12", "photographer_first_name": "Saanvi",
             "photographer_last_name": "Sarkar", "secret": "abc123d456", "server": "1234", "farm": 1,
             "title": "Sample photo 1", "ispublic": true, "isfriend": false, "isfamily": false},
            {"id": "23456789012", "owner": "34567890@B23", "photographer_first_name": "Richard",
             "photographer_last_name": "Roe", "secret": "bcd234e567", "server": "2345", "farm": 2,
             "title": "Sample photo 2", "ispublic": true, "isfriend": false, "isfamily": false}]}}"#;
    let text = "#set($inputRoot = $input.path('$'))\n{\n  \"photos\": [\n\
                #foreach($elem in $inputRoot.photos.photo)\n    {\n      \"id\": \"$elem.id\",\n      \
                \"photographedBy\": \"$elem.photographer_first_name $elem.photographer_last_name\",\n      \
                \"title\": \"$elem.title\",\n      \"ispublic\": $elem.ispublic,\n      \
                \"isfriend\": $elem.isfriend,\n      \"isfamily\": $elem.isfamily\n    \
                }#if($foreach.hasNext),#end\n\n#end\n  ]\n}";
    let documented = "{\n  \"photos\": [\n    {\n      \"id\": \"12345678901\",\n      \
                      \"photographedBy\": \"Saanvi Sarkar\",\n      \"title\": \"Sample photo 1\",\n      \
                      \"ispublic\": true,\n      \"isfriend\": false,\n      \"isfamily\": false\n    },\n    \
                      {\n      \"id\": \"23456789012\",\n      \"photographedBy\": \"Richard Roe\",\n      \
                      \"title\": \"Sample photo 2\",\n      \"ispublic\": true,\n      \"isfriend\": false,\n      \
                      \"isfamily\": false\n    }\n  ]\n}";
    assert_eq!(render(text, body), documented);
}

#[test]
fn all_parameters_as_documented() {
    // The reference's "Parameter Mapping Template Example": every parameter, by kind, in request order.
    let text = "#set($allParams = $input.params())\n{\n  \"params\" : {\n    \
                #foreach($type in $allParams.keySet())\n    #set($params = $allParams.get($type))\n    \
                \"$type\" : {\n      #foreach($paramName in $params.keySet())\n      \
                \"$paramName\" : \"$util.escapeJavaScript($params.get($paramName))\"\n      \
                #if($foreach.hasNext),#end\n      #end\n    }\n    #if($foreach.hasNext),#end\n    #end\n  }\n}";
    let (path, query) = (pairs(&[("petId", "7")]), pairs(&[("q", "say \"hi\""), ("page", "2")]));
    let header = pairs(&[("User-Agent", "curl/8"), ("Accept", "application/json")]);
    let input = RenderInput { path: &path, querystring: &query, header: &header, ..RenderInput::default() };
    let out = render_with(text, &input).body;
    let expected = json!({"params": {"path": {"petId": "7"}, "querystring": {"q": "say \"hi\"", "page": "2"},
        "header": {"User-Agent": "curl/8", "Accept": "application/json"}}});
    assert_eq!(json_of(&out), expected);
    let at = |key: &str| out.find(key).expect("key present");
    assert!(at("\"path\"") < at("\"querystring\"") && at("\"querystring\"") < at("\"header\""));
    assert!(at("User-Agent") < at("Accept"), "parameters keep request order: {out}");
}

#[test]
fn input_functions_as_documented() {
    // The reference's "Example Request and Response Using $input". The documented response shows what the
    // backend read; the template itself sends `things` through escapeJavaScript, quotes escaped.
    let text = "{\n    \"id\" : \"$input.params('id')\",\n    \"count\" : \"$input.path('$.things').size()\",\n    \
                \"things\" : $util.escapeJavaScript($input.json('$.things'))\n}";
    let path = pairs(&[("id", "abc")]);
    let body = r#"{"things": {"1": {}, "2": {}, "3": {}}}"#;
    let out = render_with(text, &RenderInput { body, path: &path, ..RenderInput::default() }).body;
    assert_eq!(
        out,
        "{\n    \"id\" : \"abc\",\n    \"count\" : \"3\",\n    \"things\" : {\\\"1\\\":{},\\\"2\\\":{},\\\"3\\\":{}}\n}"
    );

    // "Example JSON Mapping Template Using $input": a name from the query string, the body (or a part) as JSON.
    let query = pairs(&[("name", "Bob")]);
    let body = r#"{"mykey": {"b": [1, 2.5, "x", null, true]}, "other": 1}"#;
    let input = RenderInput { body, querystring: &query, ..RenderInput::default() };
    let whole =
        render_with("{\n    \"name\" : \"$input.params('name')\",\n    \"body\" : $input.json('$') \n}", &input);
    assert_eq!(json_of(&whole.body), json!({"name": "Bob", "body": json_of(body)}));
    let part =
        render_with("{\n    \"name\" : \"$input.params('name')\",\n    \"body\" : $input.json('$.mykey')\n}", &input);
    assert_eq!(json_of(&part.body), json!({"name": "Bob", "body": {"b": [1, 2.5, "x", null, true]}}));
}

#[test]
fn parse_json_as_documented() {
    // The reference's $util.parseJson example, output as documented (note `#set (`, with a space).
    let body = r#"{"errorMessage":"{\"key1\":\"var1\",\"key2\":{\"arr\":[1,2,3]}}"}"#;
    let text = "#set ($errorMessageObj = $util.parseJson($input.path('$.errorMessage')))\n{\n   \
                \"errorMessageObjKey2ArrVal\" : $errorMessageObj.key2.arr[0]\n}";
    assert_eq!(render(text, body), "{\n   \"errorMessageObjKey2ArrVal\" : 1\n}");
}

#[test]
fn escape_javascript_as_documented() {
    // Escapes `'` as `\'` (the reference's caveat: not valid JSON), so templates undo it with replaceAll.
    let body = r#"{"data": "it's \"quoted\"\n/path\\é"}"#;
    assert_eq!(render("$util.escapeJavaScript($input.path('$.data'))", body), r#"it\'s \"quoted\"\n\/path\\\u00E9"#);
    let documented = r#"$util.escapeJavaScript($input.path('$.data')).replaceAll("\\'","'")"#;
    assert_eq!(render(documented, body), r#"it's \"quoted\"\n\/path\\\u00E9"#);
}

#[test]
fn response_status_override_as_documented() {
    // "Override your API's ... status codes": the PetStore error body becomes a 400.
    let text = "#set($inputRoot = $input.path('$'))\n$input.json(\"$\")\n\
                #if($inputRoot.toString().contains(\"error\"))\n#set($context.responseOverride.status = 400)\n#end\n";
    let body = r#"{"errors": [{"key": "GetPetRequest.petId", "message": "The value is out of range."}]}"#;
    let out = render_with(text, &RenderInput { body, ..RenderInput::default() });
    assert_eq!(out.response_override.status, Some(400));
    assert_eq!(json_of(&out.body), json_of(body));
    let fine = render_with(text, &RenderInput { body: r#"{"id": 1}"#, ..RenderInput::default() });
    assert_eq!((fine.response_override.status, fine.body.as_str()), (None, "{\"id\":1}\n"));
}

#[test]
fn request_header_override_as_documented() {
    // The request override tutorial: header3 from header1 and header2, header1 replaced.
    let text = "#set($header1Override = \"foo\")\n\
                #set($header3Value = \"$input.params('header1')$input.params('header2')\")\n$input.json(\"$\")\n\
                #set($context.requestOverride.header.header3 = $header3Value)\n\
                #set($context.requestOverride.header.header1 = $header1Override)\n";
    let header = pairs(&[("header1", "header1Val"), ("header2", "header2Val")]);
    let out = render_with(text, &RenderInput { header: &header, ..RenderInput::default() });
    assert_eq!(out.request_override.headers, pairs(&[("header3", "header1Valheader2Val"), ("header1", "foo")]));
    assert_eq!(out.body, "{}\n");
}

#[test]
fn context_variables_as_documented() {
    // The reference's `$context` example, with the documented sample values.
    let context = json!({"stage": "prod", "requestId": "abcdefg-000-000-0000-abcdefg", "apiId": "abcd1234",
        "resourcePath": "/", "resourceId": "efg567", "httpMethod": "GET",
        "identity": {"sourceIp": "192.0.2.1", "userAgent": "curl/7.84.0", "accountId": "111122223333",
            "apiKey": "MyTestKey", "caller": "ABCD-0000-12345", "user": "ABCD-0000-12345",
            "userArn": "arn:aws:sts::111122223333:assumed-role/Admin/carlos-salazar"}});
    let text = "{\n    \"stage\" : \"$context.stage\",\n    \"request_id\" : \"$context.requestId\",\n    \
                \"api_id\" : \"$context.apiId\",\n    \"resource_path\" : \"$context.resourcePath\",\n    \
                \"resource_id\" : \"$context.resourceId\",\n    \"http_method\" : \"$context.httpMethod\",\n    \
                \"source_ip\" : \"$context.identity.sourceIp\",\n    \
                \"user-agent\" : \"$context.identity.userAgent\",\n    \
                \"account_id\" : \"$context.identity.accountId\",\n    \
                \"api_key\" : \"$context.identity.apiKey\",\n    \"caller\" : \"$context.identity.caller\",\n    \
                \"user\" : \"$context.identity.user\",\n    \"user_arn\" : \"$context.identity.userArn\"\n}";
    let out = render_with(text, &RenderInput { context: Some(&context), ..RenderInput::default() });
    assert_eq!(
        json_of(&out.body),
        json!({"stage": "prod", "request_id": "abcdefg-000-000-0000-abcdefg", "api_id": "abcd1234",
            "resource_path": "/", "resource_id": "efg567", "http_method": "GET", "source_ip": "192.0.2.1",
            "user-agent": "curl/7.84.0", "account_id": "111122223333", "api_key": "MyTestKey",
            "caller": "ABCD-0000-12345", "user": "ABCD-0000-12345",
            "user_arn": "arn:aws:sts::111122223333:assumed-role/Admin/carlos-salazar"})
    );
    let stage = pairs(&[("name", "v1")]);
    let input = RenderInput { stage_variables: &stage, ..RenderInput::default() };
    let text = "$stageVariables.name $stageVariables['name'] ${stageVariables['name']}";
    assert_eq!(render_with(text, &input).body, "v1 v1 v1");
}
