// The dlspec language: declarative specs of data sets, input pipelines, networks and training runs.
// docs/language.md describes what each form means; this grammar only says what parses.
// Meaning (which calls exist, which arguments they take, units, devices) is given by later stages, so
// that a misspelt layer or argument gets a did-you-mean diagnostic instead of a syntax error.
grammar DLSpec;

spec        : header? decl* EOF ;
header      : DLSPEC NUMBER ;

decl        : attribute* (datasetDecl | pipelineDecl | blockDecl | networkDecl | trainDecl) ;

// allow(W0301, reason: "…") suppresses a diagnostic code on the declaration or item it precedes.
attribute   : ALLOW '(' argList? ')' ;

datasetDecl : DATASET ident '{' datasetItem* '}' ;
datasetItem : attribute* ( role=(SAMPLE | LABEL) ident ':' typeExpr
                         | ident '=' expr
                         ) ;

pipelineDecl: PIPELINE ident FROM qualified '{' pipeItem* '}' ;
pipeItem    : attribute* ( ident '=' expr
                         | AUGMENT call (ON ident)?
                         | call
                         ) ;

blockDecl   : BLOCK ident '(' (param (',' param)* ','?)? ')' '(' (ident (',' ident)* ','?)? ')' '{' stmt* '}' ;
// Several outputs: `-> (cls: logits[N, 10], box: real[N, 4])`, returned as `return (cls: a, box: b)`.
networkDecl : NETWORK ident '(' (param (',' param)* ','?)? ')' ARROW (typeExpr | outputs) '{' stmt* '}' ;
outputs     : '(' output (',' output)* ','? ')' ;
output      : ident ':' typeExpr ;
param       : ident ':' typeExpr ('=' expr)? ;
stmt        : attribute* ( ident '=' expr
                         | RETURN namedValues
                         | RETURN expr
                         ) ;
namedValues : '(' namedValue (',' namedValue)* ','? ')' ;
namedValue  : ident ':' expr ;

trainDecl   : TRAIN ident '{' trainItem* '}' ;
trainItem   : attribute* ident '=' expr (STEPS | STEP)? clause* ;  // a unit: accumulate = 4 steps
clause      : ON placement                 # onClause
            | EVERY expr ident             # everyClause
            | METRICS list                 # metricsClause
            | KEEP expr (best=ident by=ident metric=ident)?   # keepClause   // keep 3 best by val_loss
            ;
placement   : device
            | '[' device (',' device)* ','? ']'
            ;
device      : ident (':' NUMBER)? ;

// A type: f32[N, 1, 28, 28], class<10>, logits[N, 10], int.
typeExpr    : ident ('<' expr (',' expr)* '>')? ('[' (expr (',' expr)* ','?)? ']')? ;

expr        : '-' expr                                  # negExpr
            | expr op=('*' | '/') expr                  # mulExpr
            | expr op=('+' | '-') expr                  # addExpr
            | expr PIPE expr                            # pipeExpr
            | primary                                   # primaryExpr
            ;
primary     : NUMBER                                    # numberLit
            | STRING                                    # stringLit
            | call                                      # callExpr
            | qualified                                 # nameRef
            | list                                      # listExpr
            | '(' expr ')'                              # parenExpr
            ;
call        : qualified '(' argList? ')' ;
argList     : arg (',' arg)* ','? ;
arg         : (ident ':')? expr unit=ident? ;           // a unit only inside arguments: every: 5 epochs
list        : '[' (expr (',' expr)* ','?)? ']' ;
qualified   : ident ('.' ident)* ;

// Words that are keywords only where the grammar needs them; elsewhere they are plain names.
ident       : ID | SAMPLE | LABEL | FROM | AUGMENT | ON | EVERY | METRICS | KEEP
            | DLSPEC | DATASET | PIPELINE | BLOCK | NETWORK | TRAIN | STEPS | STEP ;

DLSPEC   : 'dlspec' ;
DATASET  : 'dataset' ;
PIPELINE : 'pipeline' ;
BLOCK    : 'block' ;
NETWORK  : 'network' ;
TRAIN    : 'train' ;
RETURN   : 'return' ;
ALLOW    : 'allow' ;
SAMPLE   : 'sample' ;
LABEL    : 'label' ;
FROM     : 'from' ;
AUGMENT  : 'augment' ;
ON       : 'on' ;
EVERY    : 'every' ;
METRICS  : 'metrics' ;
KEEP     : 'keep' ;
STEPS    : 'steps' ;
STEP     : 'step' ;

ARROW    : '->' ;
PIPE     : '|>' ;
LPAREN : '(' ; RPAREN : ')' ; LBRACE : '{' ; RBRACE : '}' ; LBRACK : '[' ; RBRACK : ']' ;
LT : '<' ; GT : '>' ; COMMA : ',' ; COLON : ':' ; ASSIGN : '=' ; DOT : '.' ;
PLUS : '+' ; MINUS : '-' ; STAR : '*' ; SLASH : '/' ;

NUMBER   : DIGITS ('.' DIGITS?)? EXPONENT?
         | '.' DIGITS EXPONENT?
         ;
// A number glued to letters (12abc, 1e, 0x1F) is one bad token, reported as such.
BAD_NUMBER : DIGITS ('.' DIGITS?)? [eE] [+-]?
           | DIGITS ('.' DIGITS?)? EXPONENT? [a-zA-Z_] [a-zA-Z_0-9]*
           ;
ID       : [a-zA-Z_] [a-zA-Z_0-9]* ;
STRING   : '"' ( ESC | ~["\\\r\n] )* '"' ;
UNTERMINATED_STRING : '"' ( ESC | ~["\\\r\n] )* ('\\')? ;

LINE_COMMENT  : '//' ~[\r\n]* -> channel(HIDDEN) ;
BLOCK_COMMENT : '/*' .*? '*/' -> channel(HIDDEN) ;
// Cannot contain `*/`: otherwise, being the longer match, it would swallow every closed comment too.
UNTERMINATED_COMMENT : '/*' ( ~'*' | '*'+ ~[*/] )* '*'* EOF ;
WS       : [ \t\r\n\f]+ -> skip ;
ERROR_CHAR : . ;

fragment DIGITS   : [0-9] ('_'? [0-9])* ;
fragment EXPONENT : [eE] [+-]? [0-9]+ ;
fragment ESC      : '\\' ( ["\\/nrt0] | 'u{' [0-9a-fA-F]+ '}' ) | '\\' ~[\r\n] ;
