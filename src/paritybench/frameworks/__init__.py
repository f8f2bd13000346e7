"""One module per framework with the same functions: ``read_back(opts)``, ``probe(keras, logits, loss)``,
``sync(x)``. Callers pick the module once by name (``importlib.import_module``); nothing here is
imported at package load, so importing ``paritybench.frameworks`` loads no framework."""
