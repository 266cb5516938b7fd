" Vim syntax for dlspec specs (.dls), from grammar/DLSpec.g4's keywords and literals.
" Install: copy editors/vim/{syntax,ftdetect} into ~/.vim (or add editors/vim to 'runtimepath').
if exists("b:current_syntax")
  finish
endif

syn keyword dlsDecl dataset pipeline block network train
syn keyword dlsField sample label
syn keyword dlsClause from augment on every metrics keep steps step
syn keyword dlsStatement return
syn keyword dlsKeyword dlspec allow
syn keyword dlsConstant true false all same valid
syn keyword dlsType f32 f16 bf16 i64 i32 u8 bool int float real logits probs log_probs sigmoid_probs class onehot multilabel mask
syn match dlsDevice "\<\(cpu\|cuda\)\>\(:[0-9]\+\)\?"
syn match dlsNumber "\<[0-9]\(_\?[0-9]\)*\(\.\([0-9]\(_\?[0-9]\)*\)\?\)\?\([eE][+-]\?[0-9]\+\)\?\>"
syn match dlsCall "\<[A-Za-z_][A-Za-z0-9_]*\ze\s*("
syn match dlsOperator "|>\|->\|[-+*/=]"
syn region dlsString start=+"+ skip=+\\.+ end=+"\|$+ contains=dlsEscape
syn match dlsEscape "\\\(u{[0-9a-fA-F]\+}\|.\)" contained
syn match dlsComment "//.*$" contains=@Spell
syn region dlsComment start="/\*" end="\*/" contains=@Spell

hi def link dlsDecl Structure
hi def link dlsField StorageClass
hi def link dlsClause Keyword
hi def link dlsStatement Statement
hi def link dlsKeyword PreProc
hi def link dlsConstant Constant
hi def link dlsType Type
hi def link dlsDevice Constant
hi def link dlsNumber Number
hi def link dlsCall Function
hi def link dlsOperator Operator
hi def link dlsString String
hi def link dlsEscape SpecialChar
hi def link dlsComment Comment

let b:current_syntax = "dlspec"
