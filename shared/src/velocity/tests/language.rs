//! The subset as API Gateway runs it: whitespace, null, expressions, `#foreach`, printing, JSONPath, methods,
//! `$util` and overrides.

use super::{pairs, render, render_err, render_with};
use crate::velocity::{ParseErrorKind, RenderError, RenderInput, Template};

#[test]
fn whitespace_follows_velocity_1_7() {
    // #set takes its indentation and newline; other directives their newline, not their indentation.
    assert_eq!(render("a\n   #set($x = 1)\nb\t#set($y = 2)\n$x $y #set($x = 3)$x", ""), "a\nb\t1 23");
    assert_eq!(render("a\n  #if(true)\n  x\n  #end\nb", ""), "a\n    x\n  b");
    assert_eq!(render("#if(false)x\n#else  \ny\n#end", ""), "y\n");
    assert_eq!(render("#foreach($i in [1..2])$i\r\n#end.", ""), "1\r\n2\r\n.");
    assert_eq!(render("a ## note\nb #* block\n *#c", ""), "a b c");
    assert_eq!(render("#if(true)yes#{else}no#{end}#[[$raw #if]]#", ""), "yes$raw #if");
    assert_eq!(render("#set($a = 1)\\$a \\$b \\#if #fff $ $. $5 #1", ""), "$a \\$b #if #fff $ $. $5 #1");
}

#[test]
fn null_and_undefined_render_as_nothing() {
    // As API Gateway does (stock Velocity would show `$nope`).
    assert_eq!(render("[$nope][$!nope][${nope}][$input.path('$.missing')][$input.json('$.a.b')]", "{}"), "[][][][][]");
    assert_eq!(render("#set($a = \"x\")#set($a = $input.path('$.missing'))$a \"$nope\"", "{}"), "x \"\"");
    assert_eq!(render("$input.params('absent')|$input.body", ""), "|{}");
    assert_eq!(render("$input.path('$.v')|$input.path('$.v').size()", r#"{"v": null}"#), "|");
}

#[test]
fn expressions() {
    assert_eq!(render("#if(\"\")empty string is true#end", ""), "empty string is true");
    assert_eq!(render("#if($nope)x#elseif(0)zero is true#{else}y#end", ""), "zero is true");
    let text = "#set($a = 7)#set($b = 2)#set($q = $a / $b)#set($r = $a % $b)#set($f = $a + 0.5)$q $r $f";
    assert_eq!(render(text, ""), "3 1 7.5");
    assert_eq!(render("#set($z = 1 / 0)[$z] #set($n = -3 * (2 + 1))$n", ""), "[] -9");
    assert_eq!(render("#if(7 > 2 && !(7 == 3) and not false || $x)ok#end", ""), "ok");
    assert_eq!(render("#if(1 == 1.0 && \"1\" == 1 && 2 ge 2 && 1 lt 2 && \"a\" ne \"b\")eq#end", ""), "eq");
    assert_eq!(render("#if(\"b\" > \"a\")x#{else}strings do not compare#end", ""), "strings do not compare");
    assert_eq!(render("#set($s = \"a\" + 1)$s", ""), "a1");
    assert_eq!(render("#foreach($i in [1..3])$i#end #foreach($i in [3..1])$i#end", ""), "123 321");
    let text = "#set($m = {\"k\": [1, \"two\"], 'n': {}})$m $m.k $m.k.size() $m['n'].isEmpty() '$m.k'";
    assert_eq!(render(text, ""), "{k=[1, two], n={}} [1, two] 2 true '[1, two]'");
    assert_eq!(render("#set($s = 'no $interpolation ''here''')$s", ""), "no $interpolation 'here'");
    assert_eq!(render("#set($s = \"say \"\"hi\"\"\")$s", ""), "say \"hi\"");
    assert!(Template::parse("#set($x = 99999999999999999999)").is_err());
}

#[test]
fn foreach_variables() {
    let text = "#foreach($x in [\"a\",\"b\"])$x$foreach.index$foreach.count$velocityCount$foreach.hasNext #end";
    assert_eq!(render(text, ""), "a011true b122false ");
    assert_eq!(render("#set($x = \"outer\")#foreach($x in [1])$x#end $x", ""), "1 outer");
    assert_eq!(render("#foreach($v in $input.path('$'))$v,#end", r#"{"b": 1, "a": 2}"#), "1,2,");
    assert_eq!(render("#foreach($v in $nope)x#end#foreach($c in \"abc\")x#end.", ""), ".");
    let nested = "#foreach($a in [1,2])#foreach($b in [1])$foreach.parent.index$foreach.hasNext#end#end";
    assert_eq!(render(nested, ""), "0false1false");
}

#[test]
fn values_print_as_api_gateway_prints_them() {
    let body = r#"{"f": 100.0, "e": 1e20, "small": 0.0001, "i": 12345678901, "neg": -2.5,
            "m": {"a": 1, "b": [{"c": 5}, "s"], "d": {"e": "x", "n": null}}}"#;
    assert_eq!(render("$input.path('$.f') $input.path('$.e') $input.path('$.small')", body), "100.0 1.0E20 1.0E-4");
    assert_eq!(render("$input.path('$.i') $input.path('$.neg')", body), "12345678901 -2.5");
    assert_eq!(render("$input.path('$.m')", body), r#"{a=1, b=[{"c":5},"s"], d={e=x, n=null}}"#);
    assert_eq!(
        render("$input.json('$')", r#"{"b": 1, "a": [2, {"z": 0, "y": "\u00e9"}]}"#),
        r#"{"b":1,"a":[2,{"z":0,"y":"é"}]}"#
    );
}

#[test]
fn json_paths() {
    let body = r#"{"items": [{"id": 1, "tags": ["a"]}, {"id": 2}], "weird key": {"x": true}}"#;
    assert_eq!(render("$input.json('$.items[1]')", body), r#"{"id":2}"#);
    assert_eq!(render("$input.json('$.items[-1].id') $input.json('$[\"items\"][0].tags[0]')", body), r#"2 "a""#);
    assert_eq!(
        render("$input.json('$.items[*].id') $input.json('$..id') $input.json('$.items.*.tags')", body),
        r#"[1,2] [1,2] [["a"]]"#
    );
    assert_eq!(render("$input.json(\"$['weird key'].x\") $input.path('$.items').size()", body), "true 2");
    assert_eq!(render("$input.json('$.items[*].nothing')", body), "[]");
    for path in ["$.items[?(@.id > 1)]", "$.items[0:1]", "$.items.length()", "items", "$.a['b','c']"] {
        let err = Template::parse(&format!("\n$input.json(\"{path}\")")).expect_err("JSONPath refused");
        assert_eq!((err.kind, err.line), (ParseErrorKind::Unsupported, 2), "{path}: {err}");
    }
    // A path computed at run time is checked when it is used.
    let err = render_err("#set($p = '$.a[?(@)]')$input.path($p)", "{}");
    assert!(matches!(err, RenderError::Failed { line: 1, .. }), "{err}");
    assert!(matches!(render_err("$input.path('$.a')", "not json"), RenderError::BodyNotJson(_)));
}

#[test]
fn methods() {
    let text = "#set($s = \"Hello, World\")$s.length() $s.substring(7) $s.substring(0, 5) $s.toUpperCase() \
                $s.contains(\"World\") $s.replaceAll(\"o\", \"0\") $s.split(\", \").size() $s.indexOf(\"W\") \
                $s.startsWith(\"He\") $s.endsWith(\"x\") $s.equals(\"x\") $s.replace(\"l\", \"L\") $s.toLowerCase()";
    assert_eq!(
        render(text, ""),
        "12 World Hello HELLO, WORLD true Hell0, W0rld 2 7 true false false HeLLo, WorLd hello, world"
    );
    let text = "#set($m = $input.path('$'))$m.keySet() $m.get(\"b\") $m.containsKey(\"a\") $m.isEmpty() $m.size() \
                $m.values() $m.l.contains(2) $m.l.get(0) $m.l[1] $m.l.equals($m.l) $m.a.toString().length()";
    assert_eq!(
        render(text, r#"{"a": 1, "b": 2, "l": [1, 2]}"#),
        "[a, b, l] 2 true false 3 [1, 2, [1,2]] true 1 2 true 1"
    );
    assert_eq!(render("#set($csv = \"a,b,,\")#set($p = $csv.split(\",\"))$p.size() $p", ""), "2 [a, b]");
    assert_eq!(
        render("$input.path('$.t').trim()|#set($n = 5)$n.length()|$n.equals(5.0)", r#"{"t": " x\t"}"#),
        "x||false"
    );
    assert!(matches!(render_err("#set($s = \"abc\")\n$s.substring(5)", ""), RenderError::Failed { line: 2, .. }));
    assert!(matches!(render_err("$input.path('$')[2]", "[1]"), RenderError::Failed { .. }));
    assert!(matches!(render_err("#set($x = 9223372036854775807 + 1)", ""), RenderError::Failed { .. }));
}

#[test]
fn util_functions() {
    assert_eq!(render("$util.urlEncode(\"a b&c=d/é*~\")", ""), "a+b%26c%3Dd%2F%C3%A9*%7E");
    assert_eq!(render("$util.urlDecode(\"a+b%26c%C3%A9\")", ""), "a b&cé");
    assert_eq!(render("$util.base64Encode(\"hello\") $util.base64Decode(\"aGVsbG8\")", ""), "aGVsbG8= hello");
    assert_eq!(render("$util.parseJson('[1, {\"a\": \"b\"}]')[1].a", ""), "b");
    assert_eq!(render("[$util.escapeJavaScript($nope)]", ""), "[]");
    for text in ["$util.urlDecode(\"%zz\")", "$util.base64Decode(\"@@\")", "$util.parseJson(\"{\")"] {
        assert!(matches!(render_err(text, ""), RenderError::Failed { line: 1, .. }), "{text}");
    }
}

#[test]
fn overrides() {
    let text = "#set($context.responseOverride.status = \"404\")\
                #set($context.responseOverride.header.X-Test-Header = \"Overridden\")\
                #set($context.responseOverride.header.Set-Cookie = [\"a=1\", \"b=2\"])\
                #set($context.requestOverride.path.petId = 5)#set($context.requestOverride.querystring.q = \"x\")\
                $context.responseOverride.status";
    let out = render_with(text, &RenderInput::default());
    assert_eq!(out.body, "404");
    assert_eq!(out.response_override.status, Some(404));
    assert_eq!(
        out.response_override.headers,
        pairs(&[("X-Test-Header", "Overridden"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
    );
    assert_eq!(out.request_override.path, pairs(&[("petId", "5")]));
    assert_eq!(out.request_override.querystring, pairs(&[("q", "x")]));
    let twice = "#set($context.responseOverride.status = 400)\n#set($context.responseOverride.status = 401)";
    assert_eq!(
        render_err(twice, ""),
        RenderError::OverriddenTwice { line: 2, name: "responseOverride.status".to_owned() }
    );
    let looped = "#foreach($i in [1,2])#set($context.responseOverride.header.x = $i)#end";
    assert!(matches!(render_err(looped, ""), RenderError::OverriddenTwice { line: 1, .. }));
    assert!(matches!(render_err("#set($context.responseOverride.status = 99)", ""), RenderError::BadStatus { .. }));
    // Setting a property of the body read through $input.path('$') changes the body $input.json prints.
    let text = "#set($root = $input.path('$'))#set($root.a = 2)#set($root.n.x = 1)$root.a $input.json('$')";
    assert_eq!(render(text, r#"{"a": 1, "n": {}}"#), r#"2 {"a":2,"n":{"x":1}}"#);
}

#[test]
fn the_body_from_input_path_is_the_body_itself() {
    // API Gateway hands out the document: a change through `$input.path('$')` shows in `$input.json('$')`.
    let text = "#set($root = $input.path('$'))#set($root.status = 650)#set($root.body = \"changed\")$input.json('$')";
    assert_eq!(render(text, r#"{"body":"error"}"#), r#"{"body":"changed","status":650}"#);
    // A copy taken before the change keeps what it saw.
    let text = "#set($a = $input.path('$'))#set($b = $a)#set($a.x = 1)$b.size() $input.json('$')";
    assert_eq!(render(text, "{}"), r#"0 {"x":1}"#);
}
