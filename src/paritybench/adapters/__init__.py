"""Adapters: the user's own models, as they are, and the automatic weight mapping between them.

``mapping`` (NumPy only) holds the parameter tables and the mapper, ``layouts`` the layout rules between the
frameworks written once as named transforms; ``keras_params``, ``torch_params`` and ``jax_params`` read a
parameter table from a model and assign mapped weights to it, importing their framework only when called.
"""
