"""One evaluation of a fine-tune across every layer: each layer's own verdict, combined by one rule."""
