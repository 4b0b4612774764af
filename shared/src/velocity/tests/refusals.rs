//! What the subset refuses at load names the construct and its line.

use crate::velocity::{ParseErrorKind, Template};

#[test]
fn refused_constructs_name_themselves_and_their_line() {
    let cases = [
        ("ok\n#macro(x)#end", "#macro", 2),
        ("\n\n#include(\"x\")", "#include", 3),
        ("#parse(\"x\")", "#parse", 1),
        ("a\n#evaluate($x)", "#evaluate", 2),
        ("#define($x)y#end", "#define", 1),
        ("#foreach($i in [1])\n#break\n#end", "#break", 2),
        ("#stop", "#stop", 1),
        ("#{macro}(x)#end", "#macro", 1),
        ("x\n  $util.toJson($a)", "$util.toJson", 2),
        ("$util.escapeJavaScript($a, $b)", "$util.escapeJavaScript", 1),
        ("$util", "$util.", 1),
        ("{\n\"a\": $input.foo}", "$input.foo", 2),
        ("\n\n\n$foo.bar()", ".bar()", 4),
        ("$s.matches(\"a\")", ".matches()", 1),
        ("$s.substring()", ".substring()", 1),
        ("$s.replaceAll(\"a.*\", \"b\")", ".replaceAll()", 1),
        ("$s.replaceAll(\"a\", \"$1\")", ".replaceAll()", 1),
        ("$s.split(\"\\d\")", ".split()", 1),
        ("#set($context.responseOverride.foo = 1)", "$context.responseOverride.foo", 1),
        ("#set($a.get(1) = 1)", "$a.get(1)", 1),
        ("\n#mymacro()", "#mymacro", 2),
        ("#set($s = \"#if(true)x#end\")", "#if", 1),
    ];
    for (text, construct, line) in cases {
        let err = Template::parse(text).expect_err(text);
        assert_eq!(
            (err.construct.as_str(), err.line, err.kind),
            (construct, line, ParseErrorKind::Unsupported),
            "{text}"
        );
        assert!(err.to_string().contains(&format!("line {line}: {construct}")), "{err}");
    }
    let syntax = [
        ("#if(true)x", "#if", 1),
        ("x\n#end", "#end", 2),
        ("#if(true)\n#else\n#else\n#end", "#else", 3),
        ("#foreach($i in [1])#else#end", "#else", 1),
        ("#set($a = \"x)", "\"", 1),
        ("\n#set($a 1)", "#set", 2),
        ("#if(1 +)#end", ")", 1),
        ("#* open", "#*", 1),
        ("${a.b", "${a", 1),
    ];
    for (text, construct, line) in syntax {
        let err = Template::parse(text).expect_err(text);
        assert_eq!((err.construct.as_str(), err.line, err.kind), (construct, line, ParseErrorKind::Syntax), "{text}");
    }
}
