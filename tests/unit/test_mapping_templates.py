"""API Gateway's mapping templates (apigateway.mapping): real templates from AWS's
serverless-patterns collection, each $input form and $util function, $context and
$stageVariables, the choice of a template by Content-Type and PassthroughBehavior, and errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sluiceway.apigateway import mapping
from sluiceway.apigateway.mapping import (
    MappingRequest,
    MappingTemplateError,
    render,
    render_response,
    select_template,
)
from sluiceway.core.errors import SluicewayError

CONTEXT: dict[str, Any] = {
    "requestId": "c0ffee-1",
    "extendedRequestId": "Ab1Cd=",
    "httpMethod": "POST",
    "resourcePath": "/music/{artist}",
    "path": "/prod/music/The%20Beatles",
    "stage": "prod",
    "apiId": "abcd1234",
    "accountId": "123456789012",
    "requestTime": "09/Apr/2015:12:34:56 +0000",
    "requestTimeEpoch": 1428582896000,
    "identity": {"sourceIp": "192.0.2.1", "userAgent": "curl/8.5.0"},
    "authorizer": {"claims": {"sub": "u-1", "email": "ana@example.com"}},
    "domainName": "abcd1234.execute-api.us-east-1.amazonaws.com",
    "protocol": "HTTP/1.1",
}


def request(body: str = "", **fields: Any) -> MappingRequest:
    """A request with `body` and no parameters, CONTEXT as its $context, unless `fields` say."""
    defaults: dict[str, Any] = {"headers": {}, "query": {}, "path": {}, "context": CONTEXT}
    return MappingRequest(body=body, **(defaults | fields))


# -- real templates --------------------------------------------------------------------------
# Quoted from aws-samples/serverless-patterns (MIT-0), each as the pattern's YAML gives it to
# API Gateway (a `!Sub` variable resolved as CloudFormation would).


def test_sqs_send_message_passes_the_body_through() -> None:
    # apigw-sqs-rest (MIT-0), PassthroughBehavior NEVER
    template = "Action=SendMessage&MessageBody=$input.body"
    rendered = render(template, request('{"message": "hi"}'))
    assert rendered == 'Action=SendMessage&MessageBody={"message": "hi"}'


def test_dynamodb_put_item_takes_the_request_id_and_two_fields() -> None:
    # apigw-rest-api-dynamodb (MIT-0), POST /music -> DynamoDB PutItem
    template = (
        '{"TableName":"Music","Item":{"id":{"S":"$context.requestId"},'
        '"artist":{"S":"$input.path(\'$.artist\')"},'
        '"album":{"S":"$input.path(\'$.album\')"}}}'
    )
    rendered = render(template, request('{"artist": "The Beatles", "album": "Abbey Road"}'))
    assert rendered == (
        '{"TableName":"Music","Item":{"id":{"S":"c0ffee-1"},'
        '"artist":{"S":"The Beatles"},"album":{"S":"Abbey Road"}}}'
    )


def test_dynamodb_query_decodes_the_path_parameter() -> None:
    # apigw-rest-api-dynamodb (MIT-0), GET /music/{artist} -> DynamoDB Query
    template = (
        '{"TableName":"Music","IndexName":"Artist-Index","KeyConditionExpression":"artist=:v1",'
        '"ExpressionAttributeValues":{":v1":{"S":"$util.urlDecode($input.params(\'artist\'))"}}}'
    )
    rendered = render(template, request(path={"artist": "The%20Beatles"}))
    assert rendered == (
        '{"TableName":"Music","IndexName":"Artist-Index","KeyConditionExpression":"artist=:v1",'
        '"ExpressionAttributeValues":{":v1":{"S":"The Beatles"}}}'
    )


def test_dynamodb_query_response_lists_the_items() -> None:
    # apigw-rest-api-dynamodb (MIT-0), the Query's integration response template
    template = (
        "#set($inputRoot = $input.path('$'))\n"
        '{\n\t"music": [\n\t\t#foreach($field in $inputRoot.Items) {\n'
        '\t\t\t"id": "$field.id.S",\n\t\t\t"artist": "$field.artist.S",\n'
        '\t\t\t"album": "$field.album.S"\n\t\t}#if($foreach.hasNext),#end\n\t\t#end\n\t]\n}'
    )
    answer = {
        "Items": [
            {"id": {"S": "1"}, "artist": {"S": "The Beatles"}, "album": {"S": "Abbey Road"}},
            {"id": {"S": "2"}, "artist": {"S": "The Beatles"}, "album": {"S": "Let It Be"}},
        ],
        "Count": 2,
        "ScannedCount": 2,
    }
    rendered = render_response(template, json.dumps(answer), request('{"ignored": true}'))
    assert rendered == (
        '{\n\t"music": [\n'
        '\t\t {\n\t\t\t"id": "1",\n\t\t\t"artist": "The Beatles",\n\t\t\t"album": "Abbey Road"\n'
        "\t\t},"
        '\t\t {\n\t\t\t"id": "2",\n\t\t\t"artist": "The Beatles",\n\t\t\t"album": "Let It Be"\n'
        "\t\t}\t\t\t]\n}"
    )
    assert json.loads(rendered)["music"][1] == {
        "id": "2",
        "artist": "The Beatles",
        "album": "Let It Be",
    }


def test_dynamodb_put_item_response_is_an_empty_object() -> None:
    # apigw-rest-api-dynamodb (MIT-0), the PutItem's integration response template
    assert render_response("{}", "{}", request()) == "{}"


def test_kinesis_put_records_encodes_each_record() -> None:
    # apigw-kinesis (MIT-0), PUT /streams/{stream-name}/records -> Kinesis PutRecords
    template = (
        "{\n"
        '"StreamName": "$input.params(\'stream-name\')",\n'
        '"Records": [\n'
        "    #foreach($elem in $input.path('$.records'))\n"
        "       {\n"
        '        "Data": "$util.base64Encode($elem.data)",\n'
        '        "PartitionKey": "$elem.partition-key"\n'
        "       }#if($foreach.hasNext),#end\n"
        "    #end\n"
        "   ]\n"
        "}\n"
    )
    records = [{"data": "one", "partition-key": "p1"}, {"data": "two", "partition-key": "p2"}]
    body = json.dumps({"records": records})
    rendered = render(template, request(body, path={"stream-name": "orders"}))
    assert rendered == (
        '{\n"StreamName": "orders",\n"Records": [\n    \n'
        '       {\n        "Data": "b25l",\n        "PartitionKey": "p1"\n       },    \n'
        '       {\n        "Data": "dHdv",\n        "PartitionKey": "p2"\n       }       ]\n}\n'
    )


def test_step_functions_start_execution_escapes_the_body() -> None:
    # apigw-rest-stepfunction (MIT-0), POST / -> StartExecution (${StateMachineArn} resolved)
    template = (
        "#set($data = $util.escapeJavaScript($input.json('$'))) \n"
        "{ \n"
        '  "input": "$data", \n'
        '  "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:Waitable"\n'
        "}"
    )
    rendered = render(template, request('{"order": 5, "path": "a/b"}'))
    assert rendered == (
        "{ \n"
        '  "input": "{\\"order\\":5,\\"path\\":\\"a\\/b\\"}", \n'
        '  "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:Waitable"\n'
        "}"
    )
    assert json.loads(json.loads(rendered)["input"]) == {"order": 5, "path": "a/b"}


def test_eventbridge_put_events_overrides_headers_and_unescapes_quotes() -> None:
    # apigw-rest-api-eventbridge-sam (MIT-0), POST / -> PutEvents (${EventBusName} resolved)
    template = (
        '#set($context.requestOverride.header.X-Amz-Target = "AWSEvents.PutEvents")\n'
        '#set($context.requestOverride.header.Content-Type = "application/x-amz-json-1.1")'
        "            \n"
        "#set($inputRoot = $input.path('$')) \n"
        "{ \n"
        '  "Entries": [\n'
        "    #foreach($elem in $inputRoot.items)\n"
        "    {\n"
        '      "Detail": "$util.escapeJavaScript($elem.Detail).replaceAll("\\\\\'","\'")",\n'
        '      "DetailType": "$elem.DetailType",\n'
        '      "EventBusName": "MyCustomEventBus",\n'
        '      "Source":"$elem.Source"\n'
        "    }#if($foreach.hasNext),#end\n"
        "    #end\n"
        "  ]\n"
        "\n"
        "}"
    )
    items = [
        {"Detail": '{"note": "it\'s here"}', "DetailType": "order", "Source": "shop"},
        {"Detail": "{}", "DetailType": "refund", "Source": "shop"},
    ]
    rendered = render(template, request(json.dumps({"items": items})))
    assert rendered == (
        '{ \n  "Entries": [\n    \n'
        '    {\n      "Detail": "{\\"note\\": \\"it\'s here\\"}",\n'
        '      "DetailType": "order",\n      "EventBusName": "MyCustomEventBus",\n'
        '      "Source":"shop"\n    },    \n'
        '    {\n      "Detail": "{}",\n      "DetailType": "refund",\n'
        '      "EventBusName": "MyCustomEventBus",\n      "Source":"shop"\n    }      ]\n\n}'
    )
    assert json.loads(rendered)["Entries"][0]["Detail"] == '{"note": "it\'s here"}'


def test_ses_send_email_numbers_each_address() -> None:
    # apigw-ses-transformation (MIT-0), POST / -> SES SendEmail ($foreach.count)
    template = (
        "#set($inputRoot = $input.path('$'))\n"
        "Action=SendEmail\n"
        "&Source=$inputRoot.from\n"
        "#foreach($to in $inputRoot.to)\n"
        "&Destination.ToAddresses.member.$foreach.count=$to\n"
        "#end\n"
        "#foreach($bcc in $inputRoot.bcc)\n"
        "&Destination.BccAddresses.member.$foreach.count=$bcc\n"
        "#end\n"
        "#foreach($cc in $inputRoot.cc)\n"
        "&Destination.CcAddresses.member.$foreach.count=$cc\n"
        "#end\n"
        "&Message.Subject.Data=$inputRoot.subject\n"
        "&Message.Body.Text.Data=$inputRoot.text\n"
        "&Message.Body.Html.Data=$inputRoot.html"
    )
    body = {
        "from": "a@example.com",
        "to": ["b@example.com", "c@example.com"],
        "cc": ["d@example.com"],
        "subject": "Hi",
        "text": "Hello",
        "html": "<p>Hello</p>",
    }
    assert render(template, request(json.dumps(body))) == (
        "Action=SendEmail\n&Source=a@example.com\n"
        "\n&Destination.ToAddresses.member.1=b@example.com\n"
        "\n&Destination.ToAddresses.member.2=c@example.com\n"
        "\n&Destination.CcAddresses.member.1=d@example.com\n"
        "&Message.Subject.Data=Hi\n&Message.Body.Text.Data=Hello\n"
        "&Message.Body.Html.Data=<p>Hello</p>"
    )


# -- $input ----------------------------------------------------------------------------------

BODY = '{"a": {"b": "deep"}, "list": [10, 20, {"x": "y"}], "odd key": 1, "s": "text", "t": true}'


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$input.body", BODY),
        (
            "$input.json('$')",
            '{"a":{"b":"deep"},"list":[10,20,{"x":"y"}],"odd key":1,"s":"text","t":true}',
        ),
        ("$input.json('$.a')", '{"b":"deep"}'),
        ("$input.json('$.a.b')", '"deep"'),
        ("$input.json('$.list[2]')", '{"x":"y"}'),
        ("$input.json('$.list[1]')", "20"),
        ("$input.json(\"$['odd key']\")", "1"),
        ("$input.json('$.t')", "true"),
        ("$input.json('$.missing')", '""'),
        ("$input.path('$.a.b')", "deep"),
        ("$input.path('$.list').size()", "3"),
        ("$input.path('$.list')", '[10,20,{"x":"y"}]'),
        ("$input.path('$.a')", "{b=deep}"),
        ("$input.path('$').a.b", "deep"),
        ("$input.path('$.list')[1]", "20"),
        ("$input.path('$.t')", "true"),
        ("$input.path('$.missing')", ""),
        ("#if($input.path('$.t'))yes#{else}no#end", "yes"),
        ("$input.path('$.s').toUpperCase()", "TEXT"),
        (
            "#foreach($n in $input.path('$.list'))$foreach.index#if($foreach.hasNext);#end#end",
            "0;1;2",
        ),
        ("#foreach($k in $input.path('$.a').keySet())$k#end", "b"),
    ],
)
def test_input_body_json_and_path(template: str, expected: str) -> None:
    assert render(template, request(BODY)) == expected


def test_an_empty_body_is_an_empty_object() -> None:
    assert render("$input.body|$input.json('$')|$input.path('$').size()", request("")) == "{}|{}|0"


def test_a_body_that_is_not_json_still_renders() -> None:
    template = "$input.body|$input.json('$.a')|$input.path('$.a')|"
    assert render(template, request("plain words")) == 'plain words|""||'


PARAMS = request(
    headers={"Content-Type": "application/json", "X-Trace": "t-1", "id": "from-header"},
    query={"page": "2", "id": "from-query"},
    path={"id": "from-path"},
)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$input.params('id')", "from-path"),
        ("$input.params('page')", "2"),
        ("$input.params('x-trace')", "t-1"),
        ("$input.params('X-TRACE')", "t-1"),
        ("$input.params('absent')", ""),
        ("$input.params().header.get('content-type')", "application/json"),
        ("$input.params().header.get('Content-Type')", "application/json"),
        ("$input.params().querystring.page", "2"),
        ("$input.params().path.get('id')", "from-path"),
        ("$input.params().header.containsKey('x-trace')", "true"),
        ("$input.params().querystring.size()", "2"),
        ("$input.params().querystring", "{page=2, id=from-query}"),
    ],
)
def test_input_params(template: str, expected: str) -> None:
    assert render(template, PARAMS) == expected


def test_input_params_in_the_order_a_template_walks_them() -> None:
    # The AWS documentation's example of passing every parameter through as JSON.
    template = (
        "#set($allParams = $input.params())\n"
        '{"params": {\n'
        "#foreach($type in $allParams.keySet())\n"
        "#set($params = $allParams.get($type))\n"
        '"$type": {'
        "#foreach($paramName in $params.keySet())"
        '"$paramName": "$util.escapeJavaScript($params.get($paramName))"'
        "#if($foreach.hasNext),#end"
        "#end"
        "}#if($foreach.hasNext),#end\n"
        "#end\n"
        "}}"
    )
    rendered = render(template, PARAMS)
    params = {"path": PARAMS.path, "querystring": PARAMS.query, "header": PARAMS.headers}
    assert json.loads(rendered) == {"params": params}  # header's "application\\/json" read back


# -- $util ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$util.escapeJavaScript($input.path('$.s'))", 'it\\\'s \\"quoted\\" \\/ \\\\ \\n\\t'),
        ("$util.escapeJavaScript($input.path('$.u'))", "caf\\u00E9 \\u20AC \\uD83D\\uDE00"),
        ("$util.escapeJavaScript($input.path('$.missing'))", ""),
        ("$util.escapeJavaScript($input.path('$.n'))", "1.5"),
        ("$util.parseJson($input.path('$.embedded')).k", "v"),
        ("$util.parseJson($input.path('$.embedded')).list.size()", "2"),
        ("$util.parseJson('[1, 2]').get(1)", "2"),
        ("$util.urlEncode('a b&c=d/é~*')", "a+b%26c%3Dd%2F%C3%A9%7E*"),
        ("$util.urlDecode('a+b%26c%3Dd%2F%C3%A9')", "a b&c=d/é"),
        ("$util.base64Encode('héllo')", "aMOpbGxv"),
        ("$util.base64Decode('aMOpbGxv')", "héllo"),
        # $util.toJson is AppSync's, not API Gateway's: there it renders as nothing.
        ("[$util.toJson($input.path('$'))]", "[]"),
    ],
)
def test_util(template: str, expected: str) -> None:
    body = {
        "s": 'it\'s "quoted" / \\ \n\t',
        "u": "café € \U0001f600",
        "n": 1.5,
        "embedded": '{"k": "v", "list": [1, 2]}',
    }
    assert render(template, request(json.dumps(body))) == expected


# -- $context, $stageVariables, Velocity ------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$context.requestId", "c0ffee-1"),
        ("$context.httpMethod $context.resourcePath", "POST /music/{artist}"),
        ("$context.identity.sourceIp", "192.0.2.1"),
        ("$context.authorizer.claims.email", "ana@example.com"),
        ("$context.authorizer.claims['sub']", "u-1"),
        ("$context.requestTimeEpoch", "1428582896000"),
        ("[$context.authorizer.claims.missing]", "[]"),
        ("[$context.authorizer.scope]", "[]"),
        ("$stageVariables.table", "Music"),
        ("[$stageVariables.missing]", "[]"),
        ("[$undefined]", "[]"),
        ("#set($n = 1)## a comment\n#* and a block one *#$n", "1"),
        ('#set($s = "x")#if($s == "x")one#elseif($s == "y")two#{else}three#end', "one"),
        ("#foreach($i in [1..3])$velocityCount#end", "123"),
        ("$context.requestOverride.header.size()", "0"),
    ],
)
def test_context_stage_variables_and_velocity(template: str, expected: str) -> None:
    assert render(template, request(stage_variables={"table": "Music"})) == expected


def test_a_template_cannot_change_the_request_context() -> None:
    context = {"requestId": "r1", "authorizer": {"claims": {"sub": "u-1"}}}
    template = '#set($context.authorizer.claims.sub = "someone-else")$context.authorizer.claims.sub'
    assert render(template, request(context=context)) == "someone-else"
    assert context == {"requestId": "r1", "authorizer": {"claims": {"sub": "u-1"}}}
    assert render("$context.authorizer.claims.sub", request(context=context)) == "u-1"


def test_response_template_sees_the_integration_answer_and_the_request_context() -> None:
    # SQS's SendMessage answer, as the SQS Query API gives it in JSON.
    answer = {
        "SendMessageResponse": {
            "SendMessageResult": {"MessageId": "m-1", "MD5OfMessageBody": "abc"},
            "ResponseMetadata": {"RequestId": "sqs-1"},
        }
    }
    template = (
        '{"id": "$input.path(\'$.SendMessageResponse.SendMessageResult.MessageId\')", '
        '"request": "$context.requestId", "page": "$input.params(\'page\')"}'
    )
    rendered = render_response(template, json.dumps(answer), request("{}", query={"page": "2"}))
    assert rendered == '{"id": "m-1", "request": "c0ffee-1", "page": "2"}'


def test_parsed_templates_are_cached_by_source() -> None:
    template = "cached $context.requestId"
    render(template, request())
    before = mapping._compiled.cache_info().hits
    assert render(template, request(context={"requestId": "other"})) == "cached other"
    assert mapping._compiled.cache_info().hits == before + 1


# -- choosing a template ------------------------------------------------------------------------

JSON_TEMPLATE = {"application/json": "json"}
XML_TEMPLATE = {"application/xml": "xml"}


@pytest.mark.parametrize(
    ("templates", "content_type", "passthrough", "expected"),
    [
        # AWS's examples: one template, for application/json.
        (JSON_TEMPLATE, None, "WHEN_NO_MATCH", "json"),
        (JSON_TEMPLATE, None, "WHEN_NO_TEMPLATES", "json"),
        (JSON_TEMPLATE, None, "NEVER", "json"),
        (JSON_TEMPLATE, "application/json", "NEVER", "json"),
        (JSON_TEMPLATE, "application/xml", "WHEN_NO_MATCH", None),
        (JSON_TEMPLATE, "application/xml", "WHEN_NO_TEMPLATES", "unsupported"),
        (JSON_TEMPLATE, "application/xml", "NEVER", "unsupported"),
        # One template, for application/xml: a request without Content-Type is JSON.
        (XML_TEMPLATE, None, "WHEN_NO_MATCH", None),
        (XML_TEMPLATE, None, "WHEN_NO_TEMPLATES", "unsupported"),
        (XML_TEMPLATE, None, "NEVER", "unsupported"),
        (XML_TEMPLATE, "application/xml", "WHEN_NO_TEMPLATES", "xml"),
        # No templates at all.
        ({}, None, "WHEN_NO_MATCH", None),
        ({}, "application/xml", "WHEN_NO_TEMPLATES", None),
        ({}, "application/json", "NEVER", "unsupported"),
        # The media type only: parameters and case do not count.
        (JSON_TEMPLATE, "application/json; charset=UTF-8", "NEVER", "json"),
        (JSON_TEMPLATE, "Application/JSON", "NEVER", "json"),
        (
            {"text/plain": "text", "application/json": "json"},
            "text/plain;charset=utf-8",
            "NEVER",
            "text",
        ),
    ],
)
def test_select_template(
    templates: dict[str, str], content_type: str | None, passthrough: str, expected: str | None
) -> None:
    assert select_template(templates, content_type, passthrough) == expected


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("#if($input.body", "does not parse: line 1, column 16: expected )"),
        ("#foreach($x in [1, 2])$x", "does not parse: line 1, column 25: expected #end"),
        ("$util.parseJson($input.body).k", "failed to evaluate: '$util.parseJson($input.body)"),
        ("$util.base64Decode('abc')", "failed to evaluate: \"$util.base64Decode('abc')\""),
        ("$input.json('a.b')", "JSONPath 'a.b' does not start with '$'"),
        ("$input.json('$.a[?(@.b)]')", "unsupported JSONPath"),
    ],
)
def test_a_bad_template_is_a_mapping_template_error_naming_it(template: str, reason: str) -> None:
    with pytest.raises(MappingTemplateError) as raised:
        render(template, request("not json"), name="POST /music request template")
    assert isinstance(raised.value, SluicewayError)
    assert raised.value.name == "POST /music request template"
    assert str(raised.value).startswith("POST /music request template: ")
    assert reason in str(raised.value)


def test_a_response_template_error_names_the_response_template() -> None:
    with pytest.raises(MappingTemplateError, match=r"^response template: does not parse"):
        render_response("#foreach(", "{}", request())
