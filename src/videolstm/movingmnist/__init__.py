"""The Moving MNIST half of the paper's results: Table 2, the later literature's protocol table,
the lab report's table and figure, and Figures 5, 7, 8, 9 and 10, built from the evaluation and
baseline JSONs the workflow writes. The `videolstm` commands of this half only parse their
arguments and call these modules."""
