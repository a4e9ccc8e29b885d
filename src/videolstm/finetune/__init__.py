"""The supervised protocol (paper section 3.3): LSTM classifiers on percepts, initialised from a
pretrained encoder or randomly, the single-frame baseline, labelled-set samples, late fusion, and
Tables 1, 3, 4 and Figure 12. Many classifiers train together (finetune.bank)."""
