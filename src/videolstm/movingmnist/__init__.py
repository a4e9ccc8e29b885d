"""The Moving MNIST half of the paper: the digits (digits.py) and the generator (generator.py),
then its results: Table 2, the later literature's protocol table, the lab report's table and
figure, and Figures 5, 7, 8, 9 and 10, built from the evaluation and baseline JSONs and the
checkpoints the workflow writes. The `videolstm` commands of this half only parse their
arguments and call these modules."""
