"""The SOQL grammar (the subset the emulator serves), for lark's LALR parser.

Keywords are case-insensitive. AND and OR cannot be mixed without parentheses, as in real SOQL.
The contextual lexer only offers the terminals valid at each point, so a field may share its
name with a keyword that cannot appear there, and literals such as TODAY never clash with names.
"""

from __future__ import annotations

_WITH_N = "LAST_N_DAYS NEXT_N_DAYS N_DAYS_AGO LAST_N_WEEKS NEXT_N_WEEKS LAST_N_MONTHS NEXT_N_MONTHS"
_PLAIN = (
    "TODAY YESTERDAY TOMORROW LAST_WEEK THIS_WEEK NEXT_WEEK LAST_MONTH THIS_MONTH NEXT_MONTH "
    "LAST_90_DAYS NEXT_90_DAYS LAST_YEAR THIS_YEAR NEXT_YEAR"
)

SOQL_GRAMMAR = r"""
start: select_clause from_clause where_clause? order_clause? limit_clause? offset_clause?

select_clause: SELECT select_list
select_list: COUNT "(" ")"                    -> count_select
           | field_path ("," field_path)*     -> field_select

from_clause: FROM IDENT
where_clause: WHERE condition

?condition: unary
          | unary (AND unary)+                -> and_cond
          | unary (OR unary)+                 -> or_cond

?unary: NOT unary                             -> not_cond
      | "(" condition ")"
      | predicate

predicate: field_path COMPARE value           -> compare
         | field_path LIKE value              -> like
         | field_path IN value_list           -> in_list
         | field_path NOT IN value_list       -> not_in_list

value_list: "(" value ("," value)* ")"

value: STRING                                 -> string
     | NUMBER                                 -> number
     | TRUE                                   -> true
     | FALSE                                  -> false
     | NULL                                   -> null
     | DATETIME                               -> datetime
     | DATE                                   -> date
     | RELATIVE_DATE                          -> relative_date

order_clause: ORDER BY order_item ("," order_item)*
order_item: field_path direction? nulls?
direction: ASC | DESC
nulls: NULLS (FIRST | LAST)

limit_clause: LIMIT INT
offset_clause: OFFSET INT

field_path: IDENT ("." IDENT)*

SELECT.2: /select\b/i
COUNT.2: /count\b/i
FROM.2: /from\b/i
WHERE.2: /where\b/i
AND.2: /and\b/i
OR.2: /or\b/i
NOT.2: /not\b/i
LIKE.2: /like\b/i
IN.2: /in\b/i
ORDER.2: /order\b/i
BY.2: /by\b/i
ASC.2: /asc\b/i
DESC.2: /desc\b/i
NULLS.2: /nulls\b/i
FIRST.2: /first\b/i
LAST.2: /last\b/i
LIMIT.2: /limit\b/i
OFFSET.2: /offset\b/i
TRUE.2: /true\b/i
FALSE.2: /false\b/i
NULL.2: /null\b/i

COMPARE: "<=" | ">=" | "!=" | "<>" | "=" | "<" | ">"
RELATIVE_DATE.4: /(@WITH_N@):\d+\b/i | /(@PLAIN@)\b/i
DATETIME.3: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})/
DATE.2: /\d{4}-\d{2}-\d{2}(?![\dT])/
NUMBER: /[+-]?(\d+(\.\d*)?|\.\d+)/
INT: /\d+/
STRING: /'(\\.|[^'\\])*'/
IDENT: /[A-Za-z][A-Za-z0-9_]*/

%ignore /\s+/
""".replace("@WITH_N@", "|".join(_WITH_N.split())).replace("@PLAIN@", "|".join(_PLAIN.split()))
