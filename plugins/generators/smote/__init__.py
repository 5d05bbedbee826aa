"""``smote``: SMOTE-NC interpolation between real rows of the same class (non-private baseline).

``encoding`` turns the table into SMOTE's feature matrix and back; ``interpolation`` draws new
rows of one class; ``generator`` holds the generator.
"""
