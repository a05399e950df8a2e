set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_mnist_hnsw.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'mnist10k (n=9000, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
24794.572 0.98840
26345.507 0.98840
19268.520 0.99350
15320.901 0.99670
17910.434 0.99820
10761.354 0.99870
10702.882 0.99990
EOD
$d1 << EOD
26695.038 0.98840
48749.438 0.98840
42233.402 0.99350
40114.979 0.99670
33701.993 0.99820
26167.874 0.99870
17503.935 0.99990
EOD
$d2 << EOD
12769.574 0.99710
13728.370 0.99710
9608.872 0.99710
9104.230 0.99710
11390.181 0.99780
7210.238 0.99870
7474.374 0.99950
EOD
$d3 << EOD
24941.267 0.99710
26604.380 0.99710
23627.858 0.99710
25032.953 0.99710
24631.658 0.99780
18277.562 0.99870
12168.809 0.99950
EOD
$d4 << EOD
26465.037 0.95400
20877.687 0.98140
10138.964 0.99300
8836.574 0.99610
8764.910 0.99830
5164.253 0.99880
4545.225 0.99990
EOD
$d5 << EOD
28147.140 0.95400
29528.670 0.98140
13725.173 0.99300
19828.578 0.99610
17641.318 0.99830
9472.724 0.99880
6926.259 0.99990
EOD
$d6 << EOD
4523.621 0.97800
3827.683 0.99000
2492.789 0.99670
2191.359 0.99860
1836.993 0.99960
1412.329 0.99980
1065.072 1.00000
EOD
$d7 << EOD
6741.658 0.97800
7759.266 0.99000
4158.568 0.99670
4153.580 0.99860
3844.792 0.99960
2815.559 0.99980
1852.758 1.00000
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'hnsw:m=16,efc=200/tq:bits=4/rerank=4', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'hnsw:m=16,efc=200/tq:bits=4/rerank=4 (2 thr)', \
     $d4 using 1:2 with linespoints lc 3 dt 1 pt 3 title 'hnswlib:m=16,efc=200', \
     $d5 using 1:2 with linespoints lc 3 dt 2 pt 3 title 'hnswlib:m=16,efc=200 (2 thr)', \
     $d6 using 1:2 with linespoints lc 4 dt 1 pt 4 title 'faiss:HNSW32,Flat', \
     $d7 using 1:2 with linespoints lc 4 dt 2 pt 4 title 'faiss:HNSW32,Flat (2 thr)'
