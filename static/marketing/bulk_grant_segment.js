'use strict';
// The bulk grant form: while the segment fields change, ask the admin how many customers they describe.
(function() {
    const SEGMENT_FIELDS = ['everybody', 'levels', 'tags', 'registered_after', 'registered_before', 'no_order_days'];

    function init() {
        const output = document.getElementById('audience-estimate');
        const errorBox = document.getElementById('audience-estimate-error');
        const form = document.getElementById('bulkgrant_form');
        if (!output || !form || !output.dataset.estimateUrl || !form.elements.everybody) {
            return;  // a grant past its draft: the fields are read-only and the number is on the page
        }
        let timer = null;
        let sequence = 0;

        function query() {
            const params = new URLSearchParams();
            const data = new FormData(form);
            for (const name of SEGMENT_FIELDS) {
                for (const value of data.getAll(name)) {
                    if (value !== '') {
                        params.append(name, value);
                    }
                }
            }
            return params;
        }

        function estimate() {
            const mine = ++sequence;
            const target = form.elements.target_type;
            if (target && target.value !== 'SEGMENT') {
                return;
            }
            fetch(output.dataset.estimateUrl + '?' + query().toString(), {credentials: 'same-origin'})
                .then(function(response) { return response.json(); })
                .then(function(body) {
                    if (mine !== sequence) {
                        return;
                    }
                    if (body.error) {
                        output.textContent = '—';
                        errorBox.textContent = body.error.message;
                        errorBox.style.display = '';
                    } else {
                        output.textContent = body.text;
                        output.dataset.count = body.count;
                        errorBox.style.display = 'none';
                    }
                });
        }

        function later() {
            clearTimeout(timer);
            timer = setTimeout(estimate, 300);
        }

        for (const name of SEGMENT_FIELDS.concat(['target_type'])) {
            const field = form.elements[name];
            if (!field) {
                continue;
            }
            const inputs = field instanceof RadioNodeList ? Array.from(field) : [field];
            for (const input of inputs) {
                input.addEventListener('change', later);
                input.addEventListener('input', later);
            }
        }
        estimate();
    }

    if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', init);
    } else {
        init();
    }
})();
