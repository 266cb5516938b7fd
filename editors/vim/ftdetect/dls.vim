" dlspec specs: *.dls
autocmd BufRead,BufNewFile *.dls setfiletype dlspec
